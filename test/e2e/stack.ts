import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@inferd/testkit";

const CLI = join(import.meta.dirname, "../../packages/cli/src/main.ts");

export interface StackAddresses {
  gateway?: string;
  nats: string;
  redis: string;
  scorer?: string;
  kvIndex?: string;
  autoscaler?: string;
  sims: { pod: string; address: string; kvEvents: string }[];
  model: string;
  /** Process id of each component at start, by name (nats, redis, kv-index, scorer, gateway, pods). */
  pids?: Record<string, number | undefined>;
}

export interface RunningStack {
  readonly addresses: StackAddresses;
  /** Everything the stack printed so far. */
  output(): string;
  /** SIGINT (Ctrl-C), then waits for a clean exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts the whole stack exactly as a person does (`inferd up`), on free ports, and waits for its
 * ready line. `env` reaches every service (e.g. INFERD_SCORER_PROFILE).
 */
export async function startStack(
  options: { sims?: number; args?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunningStack> {
  const stateDir = mkdtempSync(join(tmpdir(), "inferd-e2e-"));
  const args = [
    CLI,
    "up",
    "--ports",
    "auto",
    "--sims",
    String(options.sims ?? 2),
    "--state-dir",
    stateDir,
    ...(options.args ?? []),
  ];
  // Its own process group: cleanup can then stop everything it started, even after a crash.
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout.on("data", (c) => {
    out = (out + c).slice(-1_000_000);
  });
  child.stderr.on("data", (c) => {
    out = (out + c).slice(-1_000_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const kill = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", kill);
  let line: string;
  try {
    line = await waitFor(
      () => {
        if (child.exitCode !== null)
          throw new Error(`inferd up exited with ${child.exitCode}:\n${out.slice(-4000)}`);
        return out.split("\n").find((l) => l.startsWith("INFERD_UP_READY "));
      },
      {
        timeoutMs: options.timeoutMs ?? 90_000,
        intervalMs: 100,
        message: "inferd up to print its ready line",
      },
    );
  } catch (err) {
    kill();
    throw new Error(`${(err as Error).message}\n--- inferd up output ---\n${out.slice(-4000)}`);
  }
  return {
    addresses: JSON.parse(line.slice("INFERD_UP_READY ".length)),
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill("SIGINT");
      const timer = setTimeout(kill, 20_000);
      const code = await exited;
      clearTimeout(timer);
      process.off("exit", kill);
      return code;
    },
  };
}
