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
   * While no bucket has missed the SLO, the capacity is the highest met load times this factor:
   * the pool then runs a little hotter each time until it finds the knee.
   */
  readonly explore?: number;
}

export class CapacityModel {
  readonly #buckets = new Map<number, number>();
  readonly #prior: number;
  readonly #alpha: number;
  readonly #explore: number;

  constructor(options: CapacityOptions) {
    this.#prior = options.priorRps;
    this.#alpha = options.alpha ?? 0.3;
    this.#explore = options.explore ?? 1.2;
  }

  /** One observation: load per replica (req/s) and SLO ratio (<= 1 met). */
  observe(loadPerReplica: number, ratio: number): void {
    if (!(loadPerReplica > 0) || !Number.isFinite(ratio)) return;
    const i = Math.floor(Math.log(loadPerReplica) / STEP);
    const old = this.#buckets.get(i);
    const r = old === undefined ? ratio : old + this.#alpha * (ratio - old);
    this.#buckets.set(i, r);
    for (const [j, rj] of this.#buckets) {
      if (r <= 1 && j < i && rj > 1) this.#buckets.delete(j);
      if (r > 1 && j > i && rj <= 1) this.#buckets.delete(j);
    }
  }

  /** Sustainable requests/s per replica at the SLO, or undefined while nothing is known. */
  estimate(): number | undefined {
    let bad: number | undefined;
    for (const [i, r] of this.#buckets) if (r > 1 && (bad === undefined || i < bad)) bad = i;
    let good: number | undefined;
    for (const [i, r] of this.#buckets) {
      if (r <= 1 && (bad === undefined || i < bad) && (good === undefined || i > good)) good = i;
    }
    const center = (i: number) => Math.exp((i + 0.5) * STEP);
    if (bad === undefined) {
      if (good === undefined) return this.#prior > 0 ? this.#prior : undefined;
      return Math.max(this.#prior, center(good) * this.#explore);
    }
    const rb = this.#buckets.get(bad)!;
    const xb = center(bad);
    if (good === undefined) {
      // Only misses so far: scale the lowest missed load down by how far it missed.
      const est = xb / rb;
      return this.#prior > 0 ? Math.min(this.#prior, est) : est;
    }
    const rg = this.#buckets.get(good)!;
    const xg = center(good);
    return xg + ((1 - rg) / (rb - rg)) * (xb - xg);
  }

  /** Buckets for reports: load per replica -> ratio. */
  snapshot(): { loadPerReplica: number; ratio: number }[] {
    return [...this.#buckets]
      .sort(([a], [b]) => a - b)
      .map(([i, ratio]) => ({ loadPerReplica: Math.exp((i + 0.5) * STEP), ratio }));
  }
}
