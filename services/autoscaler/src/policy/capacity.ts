/**
 * The online-learned capacity model of one pool: how the SLO ratio (observed latency at the SLO
 * percentile over its target, the worse of TTFT and ITL) grows with the load per replica, kept as
 * an exponentially weighted ratio per load bucket (buckets 10% apart). The capacity is where the
 * ratio crosses 1, interpolated between the highest bucket that met the SLO and the lowest that
 * missed it. The latest evidence wins: a met bucket above a missed one removes the missed one, and
 * vice versa, so a stale observation cannot pin the estimate. Pure.
 */
const STEP = Math.log(1.1);

export interface CapacityOptions {
  /** Prior, requests/s per replica; 0 = unknown. */
  readonly priorRps: number;
  /** Weight of a new observation in its bucket. */
  readonly alpha?: number;
  /**
   * While no bucket has missed the SLO, the capacity is the highest met load times this factor
   * (above 1 / targetUtilization, so the pool runs hotter each time until it finds the knee), or
   * where a line through the met buckets' ratios reaches 1, when that comes first.
   */
  readonly explore?: number;
}

export class CapacityModel {
  /** Bucket -> smoothed SLO ratio and smoothed load (req/s per replica) seen in it. */
  readonly #buckets = new Map<number, { ratio: number; load: number }>();
  readonly #prior: number;
  readonly #alpha: number;
  readonly #explore: number;

  constructor(options: CapacityOptions) {
    this.#prior = options.priorRps;
    this.#alpha = options.alpha ?? 0.3;
    this.#explore = options.explore ?? 1.15;
  }

  /** One observation: load per replica (req/s) and SLO ratio (<= 1 met). */
  observe(loadPerReplica: number, ratio: number): void {
    if (!(loadPerReplica > 0) || !Number.isFinite(ratio)) return;
    const i = Math.floor(Math.log(loadPerReplica) / STEP);
    const old = this.#buckets.get(i);
    const a = this.#alpha;
    const b =
      old === undefined
        ? { ratio, load: loadPerReplica }
        : { ratio: old.ratio + a * (ratio - old.ratio), load: old.load + a * (loadPerReplica - old.load) };
    this.#buckets.set(i, b);
    for (const [j, bj] of this.#buckets) {
      if (b.ratio <= 1 && j < i && bj.ratio > 1) this.#buckets.delete(j);
      if (b.ratio > 1 && j > i && bj.ratio <= 1) this.#buckets.delete(j);
    }
  }

  /** Sustainable requests/s per replica at the SLO, or undefined while nothing is known. */
  estimate(): number | undefined {
    let bad: number | undefined;
    for (const [i, b] of this.#buckets) if (b.ratio > 1 && (bad === undefined || i < bad)) bad = i;
    const good = [...this.#buckets].filter(([i, b]) => b.ratio <= 1 && (bad === undefined || i < bad));
    good.sort(([x], [y]) => x - y);
    const top = good[good.length - 1]?.[1];
    if (bad === undefined) {
      if (top === undefined) return this.#prior > 0 ? this.#prior : undefined;
      let est = top.load * this.#explore;
      const line = crossing(good.map(([, b]) => b));
      if (line !== undefined) est = Math.min(est, Math.max(top.load, line));
      return Math.max(this.#prior, est);
    }
    const worst = this.#buckets.get(bad)!;
    if (top === undefined) {
      // Only misses so far: scale the lowest missed load down by how far it missed.
      const est = worst.load / worst.ratio;
      return this.#prior > 0 ? Math.min(this.#prior, est) : est;
    }
    return top.load + ((1 - top.ratio) / (worst.ratio - top.ratio)) * (worst.load - top.load);
  }

  /** Buckets for reports: load per replica -> ratio. */
  snapshot(): { loadPerReplica: number; ratio: number }[] {
    return [...this.#buckets]
      .sort(([a], [b]) => a - b)
      .map(([, b]) => ({ loadPerReplica: b.load, ratio: b.ratio }));
  }
}

/** Where a least-squares line through (load, ratio) reaches ratio 1 (undefined if it never rises). */
function crossing(points: readonly { load: number; ratio: number }[]): number | undefined {
  if (points.length < 3) return undefined;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.load, 0) / n;
  const my = points.reduce((s, p) => s + p.ratio, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.load - mx) * (p.ratio - my);
    sxx += (p.load - mx) ** 2;
  }
  if (!(sxx > 0) || !(sxy > 0)) return undefined;
  const slope = sxy / sxx;
  return mx + (1 - my) / slope;
}
