import type { Prng } from "./prng.ts";

/**
 * Zipf-distributed choice among n items: P(rank k) ∝ 1 / k^s (k = 1..n). s = 0 is uniform.
 * Used for the popularity of prefix groups (--group-skew): with skew, prefix-only routing piles the
 * popular groups onto a few servers, which is what a load-aware policy must avoid.
 */
export class Zipf {
  readonly n: number;
  readonly s: number;
  private readonly cdf: Float64Array;

  constructor(n: number, s: number) {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Zipf: n must be a positive integer, got ${n}`);
    if (!(s >= 0) || !Number.isFinite(s)) throw new RangeError(`Zipf: exponent must be >= 0, got ${s}`);
    this.n = n;
    this.s = s;
    this.cdf = new Float64Array(n);
    let total = 0;
    for (let k = 1; k <= n; k++) {
      total += 1 / k ** s;
      this.cdf[k - 1] = total;
    }
    for (let i = 0; i < n; i++) this.cdf[i]! /= total;
    this.cdf[n - 1] = 1;
  }

  /** Probability of the item of rank k (0-based). */
  probability(rank: number): number {
    const hi = this.cdf[rank];
    if (hi === undefined) throw new RangeError(`Zipf: rank ${rank} out of range`);
    return rank === 0 ? hi : hi - this.cdf[rank - 1]!;
  }

  /** A rank in [0, n), 0 the most popular. */
  sample(rng: Prng): number {
    const u = rng.next();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
