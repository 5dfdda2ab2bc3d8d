import { request } from "undici";

export interface RestartOutcome {
  readonly pod: string;
  /** performance.now() at the kill. */
  readonly killedAt: number;
  /** Kill to the restarted server's first /health 200, ms; null when it was not back in time. */
  readonly readyAfterMs: number | null;
  /** Why nothing was killed (no pid known yet), if so. */
  readonly skipped?: string;
}

/**
 * Kills one model server with SIGKILL (a crash: no drain, in-flight requests lost) and waits until
 * the deployer has restarted it on the same port, i.e. until `/health` answers 200 again.
 */
export async function killServer(
  pod: string,
  pid: number | undefined,
  address: string,
  timeoutMs: number,
): Promise<RestartOutcome> {
  const t0 = performance.now();
  if (pid === undefined)
    return { pod, killedAt: t0, readyAfterMs: null, skipped: "no pid seen in the deployer's log" };
  try {
    process.kill(pid, "SIGKILL");
  } catch (err) {
    return { pod, killedAt: t0, readyAfterMs: null, skipped: `kill ${pid}: ${(err as Error).message}` };
  }
  // The port answers again only once the new process listens; poll it (a benchmark driver, not a test).
  while (performance.now() - t0 < timeoutMs) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      const r = await request(`${address}/health`, { headersTimeout: 1000, bodyTimeout: 1000 });
      await r.body.dump();
      if (r.statusCode === 200) return { pod, killedAt: t0, readyAfterMs: performance.now() - t0 };
    } catch {
      // still down
    }
  }
  return { pod, killedAt: t0, readyAfterMs: null };
}
