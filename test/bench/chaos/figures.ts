/**
 * Figures of a chaos run from the load generator's samples. Pure: no I/O.
 */

export interface Sample {
  /** performance.now() when the request was sent and when it ended, ms. */
  startMs: number;
  endMs: number;
  /** HTTP status, or 0 when the connection failed. */
  status: number;
  /** Prompt tokens and those served from the prefix cache (usage), 0 when unknown. */
  promptTokens: number;
  cachedTokens: number;
  /** The gateway's id of the request (x-inferd-request-id), else the x-request-id the load sent. */
  requestId?: string;
}

export interface FaultFigures {
  target: string;
  /** Requests that ended after the kill and before recovery was measured, and their failures. */
  requests: number;
  failed: number;
  /** Cache-hit rate (cached / prompt tokens) of the window before the kill. */
  hitRateBefore: number;
  /** From the kill until the component served again (its readiness probe), ms. */
  readyAfterMs: number | undefined;
  /** From the kill until the rolling cache-hit rate was back within 5% of before, ms. */
  hitRateRecoveredAfterMs: number | undefined;
}

/** Cache-hit rate of successful samples: cached prompt tokens / prompt tokens. */
export function hitRate(samples: readonly Sample[]): number {
  let prompt = 0;
  let cached = 0;
  for (const s of samples) {
    if (s.status !== 200) continue;
    prompt += s.promptTokens;
    cached += s.cachedTokens;
  }
  return prompt === 0 ? 0 : cached / prompt;
}

/**
 * Time from `killMs` until the hit rate over the last `window` successful requests (sorted by
 * end) first reaches 95% of `before`; undefined when it never does. Requests that started before
 * the kill do not count towards recovery.
 */
export function recoveryMs(
  samples: readonly Sample[],
  killMs: number,
  before: number,
  window = 20,
): number | undefined {
  const after = samples
    .filter((s) => s.startMs >= killMs && s.status === 200)
    .sort((a, b) => a.endMs - b.endMs);
  for (let i = window - 1; i < after.length; i++) {
    if (hitRate(after.slice(i - window + 1, i + 1)) >= 0.95 * before) return after[i]!.endMs - killMs;
  }
  return undefined;
}

/** Requests that ended in [fromMs, toMs) and how many of them failed (status other than 200). */
export function failures(
  samples: readonly Sample[],
  fromMs: number,
  toMs: number,
): { requests: number; failed: number } {
  let requests = 0;
  let failed = 0;
  for (const s of samples) {
    if (s.endMs < fromMs || s.endMs >= toMs) continue;
    requests++;
    if (s.status !== 200) failed++;
  }
  return { requests, failed };
}

/** A plain-text table of the figures, one row per fault. */
export function renderTable(rows: readonly FaultFigures[]): string {
  const header = ["fault (kill -9)", "requests", "failed", "ready again", "hit rate before", "hit rate back"];
  const ms = (v: number | undefined) => (v === undefined ? "never" : `${(v / 1000).toFixed(1)} s`);
  const body = rows.map((r) => [
    r.target,
    String(r.requests),
    String(r.failed),
    ms(r.readyAfterMs),
    `${(r.hitRateBefore * 100).toFixed(0)}%`,
    ms(r.hitRateRecoveredAfterMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}
