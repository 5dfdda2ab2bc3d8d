/**
 * What a pool's requests looked like over the last window: arrivals, and the TTFT and ITL of the
 * requests that finished, so the controller can read a rate and a percentile. Pure; time in ms.
 */
export interface FinishedSample {
  readonly atMs: number;
  /** When the request arrived (default: unknown, counted as at `atMs`). */
  readonly arrivedMs?: number;
  readonly ttftSeconds: number;
  /** Per-request ITL at the SLO's percentile (the gateway reports p90 per request). */
  readonly itlSeconds: number;
  readonly failed: boolean;
}

export class RequestWindow {
  readonly #arrivals: number[] = [];
  readonly #finished: FinishedSample[] = [];
  #lastArrivalMs = Number.NEGATIVE_INFINITY;

  arrival(atMs: number): void {
    this.#arrivals.push(atMs);
    this.#lastArrivalMs = Math.max(this.#lastArrivalMs, atMs);
  }

  finished(sample: FinishedSample): void {
    this.#finished.push(sample);
  }

  get lastArrivalMs(): number {
    return this.#lastArrivalMs;
  }

  /** Drops what is older than `windowMs` before `nowMs`. */
  trim(nowMs: number, windowMs: number): void {
    const cut = nowMs - windowMs;
    let i = 0;
    while (i < this.#arrivals.length && this.#arrivals[i]! < cut) i++;
    if (i > 0) this.#arrivals.splice(0, i);
    let j = 0;
    while (j < this.#finished.length && this.#finished[j]!.atMs < cut) j++;
    if (j > 0) this.#finished.splice(0, j);
  }

  /** Arrivals per second over the last `spanMs` (the window start when it is shorter). */
  rate(nowMs: number, spanMs: number): number {
    const cut = nowMs - spanMs;
    let n = 0;
    for (let i = this.#arrivals.length - 1; i >= 0 && this.#arrivals[i]! >= cut; i--) n++;
    return n / (spanMs / 1000);
  }

  /** Arrivals per second in [fromMs, toMs). */
  rateBetween(fromMs: number, toMs: number): number {
    let n = 0;
    for (let i = this.#arrivals.length - 1; i >= 0 && this.#arrivals[i]! >= fromMs; i--) {
      if (this.#arrivals[i]! < toMs) n++;
    }
    return n / ((toMs - fromMs) / 1000);
  }

  /**
   * TTFT and ITL at percentile `p` of the finished requests that arrived at or after `sinceMs`
   * (undefined without samples): requests queued before the pool changed say nothing about it.
   */
  latency(
    p: number,
    sinceMs = Number.NEGATIVE_INFINITY,
  ): { ttft: number; itl: number; samples: number; failures: number } | undefined {
    const recent = this.#finished.filter((s) => (s.arrivedMs ?? s.atMs) >= sinceMs);
    const ok = recent.filter((s) => !s.failed);
    const failures = recent.length - ok.length;
    if (ok.length === 0) return undefined;
    return {
      ttft: quantile(
        ok.map((s) => s.ttftSeconds),
        p,
      ),
      itl: quantile(
        ok.map((s) => s.itlSeconds),
        p,
      ),
      samples: ok.length,
      failures,
    };
  }
}

/** The `p` quantile (nearest rank) of `xs`. */
export function quantile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}
