/**
 * When a server's next /health probe is due. A starting server is asked often, so it turns ready
 * soon after it can serve; so is a ready one whose last probe failed, so `unhealthyAfter` failures
 * in a row take a few short intervals, not long ones. A ready server that passed its last probe is
 * asked at the slower ready interval: its exit is seen at once without any probe, and each probe
 * is a request the server has to answer.
 */
export interface ProbeState {
  readonly state: string;
  readonly failedProbes: number;
  /** When its last probe started, ms since epoch (0 = never). */
  readonly probedAt: number;
}

export function probeDue(
  server: ProbeState,
  now: number,
  intervals: { readonly intervalMs: number; readonly readyIntervalMs: number },
): boolean {
  const settled = server.state === "ready" && server.failedProbes === 0;
  const every = settled ? Math.max(intervals.intervalMs, intervals.readyIntervalMs) : intervals.intervalMs;
  // Rounds come every intervalMs with timer jitter: half an interval of slack keeps a server due
  // on the round nearest its time instead of slipping one round late.
  return now - server.probedAt >= every - intervals.intervalMs / 2;
}
