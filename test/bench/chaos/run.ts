import { waitFor } from "@inferd/testkit";
import { type FaultFigures, failures, hitRate, recoveryMs } from "./figures.ts";
import type { SteadyLoad } from "./load.ts";

export interface ChaosStack {
  /** Process ids by component name, as `inferd up` printed them. */
  pids: Record<string, number | undefined>;
  /** Everything `inferd up` printed so far. */
  output(): string;
}

export interface ChaosOptions {
  /** Successful requests to see before each kill (the "before" window). */
  before: number;
  /** Successful requests to see after the component serves again. */
  after: number;
  /** Longest wait for a killed component to serve again. */
  readyTimeoutMs: number;
}

function readyLines(output: string, name: string): number {
  const re = new RegExp(
    `^(?:\\x1b\\[[0-9;]*m)?${name.replace(/[-/]/g, "\\$&")}\\s*(?:\\x1b\\[[0-9;]*m)?\\| ready again after restart`,
    "gm",
  );
  return output.match(re)?.length ?? 0;
}

const succeededSince = (load: SteadyLoad, fromMs: number) =>
  load.samples.filter((s) => s.startMs >= fromMs && s.status === 200).length;

/**
 * Under the running load, kills each target with SIGKILL in turn (inferd up's supervisor
 * restarts it) and measures: requests failed from the kill until `after` requests succeeded
 * again, when the component served again, and when the cache-hit rate was back within 5%.
 */
export async function runChaos(
  stack: ChaosStack,
  load: SteadyLoad,
  targets: readonly string[],
  opts: ChaosOptions,
): Promise<FaultFigures[]> {
  const out: FaultFigures[] = [];
  let since = performance.now();
  for (const target of targets) {
    const pid = stack.pids[target];
    if (pid === undefined) throw new Error(`no process "${target}" in the stack`);
    await waitFor(() => succeededSince(load, since) >= opts.before, {
      timeoutMs: 120_000,
      message: `${opts.before} requests served before killing ${target}`,
    });
    const beforeSamples = load.samples.filter((s) => s.startMs >= since && s.status === 200);
    const before = hitRate(beforeSamples.slice(-opts.before));
    const readyBefore = readyLines(stack.output(), target);
    const killMs = performance.now();
    process.kill(pid, "SIGKILL");
    let readyAfterMs: number | undefined;
    try {
      await waitFor(() => readyLines(stack.output(), target) > readyBefore, {
        timeoutMs: opts.readyTimeoutMs,
        intervalMs: 50,
        message: `${target} to serve again`,
      });
      readyAfterMs = performance.now() - killMs;
    } catch {
      readyAfterMs = undefined;
    }
    const backAt = performance.now();
    await waitFor(() => succeededSince(load, backAt) >= opts.after, {
      timeoutMs: 120_000,
      message: `${opts.after} requests served after ${target} came back`,
    });
    const end = performance.now();
    const { requests, failed } = failures(load.samples, killMs, end);
    out.push({
      target,
      requests,
      failed,
      hitRateBefore: before,
      readyAfterMs,
      hitRateRecoveredAfterMs: recoveryMs(load.samples, killMs, before, Math.min(20, opts.after)),
    });
    since = end;
  }
  return out;
}
