/**
 * Prometheus histograms read from /metrics text: one snapshot per metric (buckets summed over
 * every label set), the delta of two snapshots, and quantiles estimated from the delta as
 * PromQL's histogram_quantile does (linear interpolation inside the bucket). Enough to report a
 * stage's p50/p90 of the gateway's and scorer's own timings without a Prometheus server.
 */

import { forEachSample } from "./prom.ts";

/** Cumulative bucket counts by upper bound (ascending, +Inf last), with the total count. */
export interface HistogramSnapshot {
  readonly buckets: readonly (readonly [le: number, count: number])[];
  readonly count: number;
}

export const EMPTY_HISTOGRAM: HistogramSnapshot = { buckets: [], count: 0 };

/** The histogram `name` (its `<name>_bucket` and `<name>_count` samples) summed over label sets. */
export function parseHistogram(text: string, name: string): HistogramSnapshot {
  const bucketName = `${name}_bucket`;
  const countName = `${name}_count`;
  const byLe = new Map<number, number>();
  let count = 0;
  forEachSample(text, (sample, labels, value) => {
    if (!Number.isFinite(value)) return;
    if (sample === countName) count += value;
    if (sample !== bucketName) return;
    const le = /(?:^|[{,])le="([^"]*)"/.exec(labels);
    if (le === null) return;
    const bound = le[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(le[1]);
    if (Number.isNaN(bound)) return;
    byLe.set(bound, (byLe.get(bound) ?? 0) + value);
  });
  const buckets = [...byLe.entries()].sort((a, b) => a[0] - b[0]);
  return { buckets, count };
}

/** after - before, bucket by bucket (a bucket missing before counts 0 there: a series not yet used). */
export function subHistogram(after: HistogramSnapshot, before: HistogramSnapshot): HistogramSnapshot {
  const prior = new Map(before.buckets);
  return {
    buckets: after.buckets.map(([le, c]) => [le, c - (prior.get(le) ?? 0)] as const),
    count: after.count - before.count,
  };
}

/**
 * The q-quantile (0..1) of the observations in the snapshot, in the histogram's unit: linear
 * interpolation inside the bucket that holds rank q * count (from 0 for the first bucket), the
 * largest finite bound when the rank falls in +Inf. NaN without observations.
 */
export function histogramQuantile(h: HistogramSnapshot, q: number): number {
  const total = h.buckets.at(-1)?.[1] ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of h.buckets) {
    if (c >= rank) {
      if (le === Number.POSITIVE_INFINITY) return prevLe;
      const inBucket = c - prevCount;
      return inBucket <= 0 ? le : prevLe + ((le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}
