/**
 * Restart backoff of `inferd up`'s supervisor: the delay before restart number `attempt`
 * (0-based) doubles from `baseMs` up to `maxMs`. A component that stayed up for `stableMs`
 * starts again from attempt 0, so a part that crashes once a day restarts at once, while one
 * that crashes on start does not spin the CPU.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 250, maxMs: 10_000, stableMs: 30_000 });

export function restartDelayMs(policy: BackoffPolicy, attempt: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
}

/**
 * The attempt number of this restart: the count of quick failures in a row so far, or 0 when
 * the component ran at least `stableMs` this time.
 */
export function attemptAfterRun(policy: BackoffPolicy, failuresInARow: number, ranMs: number): number {
  return ranMs >= policy.stableMs ? 0 : failuresInARow;
}
