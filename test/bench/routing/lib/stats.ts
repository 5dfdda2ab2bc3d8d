/** Percentiles and small summaries over latency samples. */

/**
 * The p-th percentile (0..100) by linear interpolation between closest ranks (numpy's default,
 * the method vLLM bench and inference-perf report). NaN for an empty sample.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be in [0, 100], got ${p}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (n === 1) return sorted[0]!;
  const pos = (p / 100) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Summary of an unsorted sample (it is copied, not modified). */
export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return {
    count: n,
    mean: n === 0 ? Number.NaN : sum / n,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: n === 0 ? Number.NaN : sorted[n - 1]!,
  };
}

/** Load imbalance of per-server counts: max/mean (1 = perfect) and coefficient of variation. */
export function imbalance(counts: readonly number[]): { maxOverMean: number; cov: number } {
  const n = counts.length;
  if (n === 0) return { maxOverMean: Number.NaN, cov: Number.NaN };
  const mean = counts.reduce((a, b) => a + b, 0) / n;
  if (mean === 0) return { maxOverMean: Number.NaN, cov: Number.NaN };
  const variance = counts.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  return { maxOverMean: Math.max(...counts) / mean, cov: Math.sqrt(variance) / mean };
}
