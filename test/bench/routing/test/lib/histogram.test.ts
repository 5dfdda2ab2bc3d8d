import { describe, expect, test } from "vitest";
import { timingsFromText } from "../../driver/scrape.ts";
import { histogramQuantile, parseHistogram, subHistogram } from "../../lib/histogram.ts";
import { pickTimingTable } from "../../lib/report/table.ts";
import { aggregateStage } from "../../lib/results.ts";

/** A histogram as prom-client prints it: `le` first, then the other labels, cumulative counts. */
function promText(
  name: string,
  series: Record<string, readonly number[]>,
  bounds: readonly number[],
): string {
  const lines = [`# HELP ${name} x`, `# TYPE ${name} histogram`];
  for (const [label, counts] of Object.entries(series)) {
    for (const [i, b] of bounds.entries())
      lines.push(`${name}_bucket{le="${b}",result="${label}"} ${counts[i]}`);
    lines.push(`${name}_bucket{le="+Inf",result="${label}"} ${counts.at(-1)}`);
    lines.push(`${name}_sum{result="${label}"} 1.5`);
    lines.push(`${name}_count{result="${label}"} ${counts.at(-1)}`);
  }
  return lines.join("\n");
}

const BOUNDS = [0.001, 0.002, 0.005, 0.01];

describe("bench histograms", () => {
  test("bench histograms - buckets summed over label sets; other metrics with the same prefix ignored", () => {
    const text = [
      promText("x_seconds", { ok: [1, 3, 4, 4, 4], deadline: [0, 0, 0, 1, 2] }, BOUNDS),
      'x_seconds_total_bucket{le="0.001"} 99',
      "x_seconds_count_other 7",
    ].join("\n");
    const h = parseHistogram(text, "x_seconds");
    expect(h.count).toBe(6);
    expect(h.buckets).toEqual([
      [0.001, 1],
      [0.002, 3],
      [0.005, 4],
      [0.01, 5],
      [Number.POSITIVE_INFINITY, 6],
    ]);
    expect(parseHistogram(text, "absent").buckets).toEqual([]);
  });

  test("bench histograms - quantiles interpolate inside the bucket as histogram_quantile does", () => {
    // 10 observations: 2 in (0, 1 ms], 6 in (1, 2 ms], 2 in (2, 5 ms].
    const h = parseHistogram(promText("t", { a: [2, 8, 10, 10, 10] }, BOUNDS), "t");
    expect(histogramQuantile(h, 0.5) * 1000).toBeCloseTo(1.5, 9); // rank 5: 3 of 6 into (1, 2]
    expect(histogramQuantile(h, 0.9) * 1000).toBeCloseTo(3.5, 9); // rank 9: 1 of 2 into (2, 5]
    expect(histogramQuantile(h, 0.1) * 1000).toBeCloseTo(0.5, 9); // first bucket from 0
    // A rank in +Inf answers the largest finite bound; no observations: NaN.
    const tail = parseHistogram(promText("t", { a: [0, 0, 0, 1, 4] }, BOUNDS), "t");
    expect(histogramQuantile(tail, 0.9)).toBe(0.01);
    expect(histogramQuantile(parseHistogram("", "t"), 0.5)).toBeNaN();
  });

  test("bench histograms - a stage's delta leaves out what was observed before it", () => {
    const before = parseHistogram(promText("t", { a: [100, 100, 100, 100, 100] }, BOUNDS), "t");
    const after = parseHistogram(promText("t", { a: [100, 102, 110, 110, 110] }, BOUNDS), "t");
    const d = subHistogram(after, before);
    expect(d.count).toBe(10);
    // Before the stage every observation was under 1 ms; in it, p50 is in (2, 5 ms].
    expect(histogramQuantile(after, 0.5) * 1000).toBeLessThan(1);
    expect(histogramQuantile(d, 0.5) * 1000).toBeCloseTo(2 + 3 * (3 / 8), 9);
  });

  test("bench histograms - a stage reports the pick path's p50/p90 per timing, in the table too", () => {
    const gateway = [
      promText("inferd_gateway_added_latency_seconds", { m: [0, 10, 10, 10, 10] }, BOUNDS),
      promText("inferd_gateway_pick_duration_seconds", { ok: [10, 10, 10, 10, 10] }, BOUNDS),
    ].join("\n");
    const scorer = promText("inferd_scorer_pick_duration_seconds", { x: [10, 10, 10, 10, 10] }, BOUNDS);
    const timings = timingsFromText(gateway, scorer);
    const s = aggregateStage({
      name: "s",
      rate: 4,
      warmup: false,
      records: [],
      counters: null,
      router: { scorerFailures: 0, kvLookupErrors: 0, addedLatencySum: 0, addedLatencyCount: 0, timings },
      endpoints: [],
    });
    expect(s.pickTimings?.added.p50).toBeCloseTo(1.5, 9);
    expect(s.pickTimings?.gatewayPick.p90).toBeCloseTo(0.9, 9);
    expect(s.pickTimings?.scorerPick.n).toBe(10);
    expect(s.pickTimings?.tokenize.p50).toBeNaN();
    const table = pickTimingTable([s]);
    expect(table).toMatch(/gw added p50\/p90 ms/);
    expect(table.split("\n")[1]).toMatch(/^4\.00\s+1\.50\/1\.90\s+0\.50\/0\.90\s+0\.50\/0\.90\s+-\/-$/);
    expect(pickTimingTable([{ ...s, pickTimings: null }])).toBe("");
  });
});
