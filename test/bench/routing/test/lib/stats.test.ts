import { describe, expect, test } from "vitest";
import { imbalance, percentile, summarize } from "../../lib/stats.ts";

describe("bench stats", () => {
  test("bench stats - percentile interpolates like numpy", () => {
    const xs = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(percentile(xs, 50)).toBeCloseTo(5.5, 12);
    expect(percentile(xs, 90)).toBeCloseTo(9.1, 12);
    expect(percentile(xs, 99)).toBeCloseTo(9.91, 12);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile([], 50)).toBeNaN();
    expect(percentile([3], 90)).toBe(3);
    expect(() => percentile(xs, 101)).toThrow(RangeError);
  });

  test("bench stats - summarize does not need sorted input and leaves it untouched", () => {
    const xs = [5, 1, 4, 2, 3];
    const s = summarize(xs);
    expect(xs).toEqual([5, 1, 4, 2, 3]);
    expect(s).toMatchObject({ count: 5, mean: 3, p50: 3, max: 5 });
    expect(summarize([]).count).toBe(0);
    expect(summarize([]).p90).toBeNaN();
  });

  test("bench stats - imbalance is 1 and 0 for an even spread", () => {
    expect(imbalance([5, 5, 5, 5])).toEqual({ maxOverMean: 1, cov: 0 });
    const skew = imbalance([10, 0, 0, 0]);
    expect(skew.maxOverMean).toBe(4);
    expect(skew.cov).toBeCloseTo(Math.sqrt(3), 12);
    expect(imbalance([]).maxOverMean).toBeNaN();
    expect(imbalance([0, 0]).cov).toBeNaN();
  });
});
