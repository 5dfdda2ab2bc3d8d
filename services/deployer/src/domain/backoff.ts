/** Restart delay after the n-th consecutive crash (n >= 1): doubles from `baseMs`, capped at `maxMs`. */
export function restartDelayMs(crashes: number, baseMs: number, maxMs: number): number {
  if (crashes <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(crashes - 1, 30));
}
