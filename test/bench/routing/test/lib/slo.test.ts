import { describe, expect, test } from "vitest";
import type { Slo } from "../../lib/options.ts";
import { aggregateStage, type RequestRecord, type StageResult } from "../../lib/results.ts";
import { judgeStage, ratio, sloCapacity } from "../../lib/slo.ts";
import { summarize } from "../../lib/stats.ts";

const SLO: Slo = { ttftP90: 2, itlP90: 0.05, minSuccess: 0.99 };

function stage(rate: number, ttftP90: number, itlP90: number, successRate = 1, warmup = false): StageResult {
  const s = summarize([1]);
  return {
    name: `r${rate}`,
    rate,
    warmup,
    sent: 100,
    succeeded: Math.round(successRate * 100),
    successRate,
    failures: {},
    errorSamples: [],
    ttft: { ...s, p90: ttftP90 },
    itl: { ...s, p90: itlP90 },
    e2e: s,
    windowSeconds: 1,
    achievedRps: rate,
    inputTokensPerSecond: 0,
    outputTokensPerSecond: 0,
    cacheHitRate: 0,
    cachedTokenShare: Number.NaN,
    preemptions: 0,
    counters: null,
    router: null,
    routerAddedMs: Number.NaN,
    pickTimings: null,
    perEndpoint: {},
    imbalanceMaxOverMean: 1,
    imbalanceCov: 0,
    lagMs: s,
    dependencyWaitMs: s,
  };
}

describe("bench slo", () => {
  test("bench slo - a stage passes only within every limit", () => {
    expect(judgeStage(stage(1, 1, 0.02), SLO)).toMatchObject({ pass: true, pressure: 0.5 });
    expect(judgeStage(stage(1, 2.5, 0.02), SLO).reasons).toEqual(["TTFT p90 2.50s"]);
    expect(judgeStage(stage(1, 1, 0.06), SLO).reasons).toEqual(["ITL p90 60ms"]);
    const shed = judgeStage(stage(1, 1, 0.02, 0.9), SLO);
    expect(shed.pass).toBe(false);
    expect(shed.pressure).toBe(Number.POSITIVE_INFINITY);
    expect(judgeStage(stage(1, Number.NaN, Number.NaN, 0), SLO).pass).toBe(false);
  });

  test("bench slo - capacity is the highest rate before the first failure, interpolated to the crossing", () => {
    const cap = sloCapacity(
      [stage(1, 0.5, 0.02), stage(2, 1, 0.02), stage(3, 3, 0.02), stage(4, 1, 0.02)],
      SLO,
    );
    expect(cap.rps).toBe(2);
    // pressure 0.5 at 2 rps, 1.5 at 3 rps -> crosses 1 halfway.
    expect(cap.interpolatedRps).toBeCloseTo(2.5, 12);
    expect(cap.censored).toBe(false);
  });

  test("bench slo - warm-up is ignored, all-pass is censored, first-rate failure is 0", () => {
    expect(sloCapacity([stage(9, 99, 1, 1, true), stage(1, 0.1, 0.01), stage(2, 0.2, 0.01)], SLO)).toEqual({
      rps: 2,
      interpolatedRps: 2,
      censored: true,
    });
    const none = sloCapacity([stage(1, 4, 0.01), stage(2, 8, 0.01)], SLO);
    expect(none.rps).toBe(0);
    expect(none.interpolatedRps).toBeCloseTo(0.5, 12);
    expect(sloCapacity([stage(1, 1, 0.01, 0.5)], SLO).interpolatedRps).toBe(0);
    expect(sloCapacity([], SLO)).toEqual({ rps: 0, interpolatedRps: 0, censored: false });
  });

  test("bench slo - ratio is NaN without a baseline", () => {
    expect(ratio(4, 2)).toBe(2);
    expect(ratio(4, 0)).toBeNaN();
    expect(ratio(Number.NaN, 2)).toBeNaN();
  });
});

function rec(over: Partial<RequestRecord>): RequestRecord {
  return {
    index: 0,
    stage: 1,
    group: 0,
    scheduledAt: 0,
    sentAt: 0,
    dependencyWaitMs: 0,
    firstTokenAt: 100,
    endAt: 1000,
    status: 200,
    error: null,
    itls: [0.01, 0.03],
    outputChunks: 3,
    promptTokens: 100,
    completionTokens: 3,
    cachedTokens: null,
    endpoint: "a",
    ...over,
  };
}

describe("bench stage aggregation", () => {
  test("bench stage aggregation - latencies, tokens/s, failures by status, imbalance and lag", () => {
    const records = [
      rec({ index: 0, sentAt: 0, scheduledAt: 0, firstTokenAt: 200, endAt: 1000, endpoint: "a" }),
      rec({
        index: 1,
        sentAt: 5,
        scheduledAt: 0,
        firstTokenAt: 405,
        endAt: 2000,
        endpoint: "a",
        itls: [0.02],
      }),
      rec({
        index: 2,
        sentAt: 10,
        scheduledAt: 10,
        status: 429,
        error: "busy",
        firstTokenAt: null,
        endAt: 11,
      }),
      rec({
        index: 3,
        sentAt: 10,
        scheduledAt: 10,
        status: 0,
        error: "ECONNRESET",
        firstTokenAt: null,
        endAt: null,
      }),
      rec({
        index: 4,
        sentAt: 20,
        scheduledAt: 20,
        status: 200,
        error: "stream ended without [DONE]",
        endAt: 500,
      }),
    ];
    const s = aggregateStage({
      name: "s",
      rate: 1,
      warmup: false,
      records,
      counters: { prefixHits: 30, prefixQueries: 120, preemptions: 2, promptTokens: 0, generationTokens: 0 },
      endpoints: ["a", "b"],
    });
    expect(s.sent).toBe(5);
    expect(s.succeeded).toBe(2);
    expect(s.successRate).toBeCloseTo(0.4, 12);
    expect(s.failures).toEqual({ "429": 1, error: 1, "stream-error": 1 });
    expect(s.ttft.count).toBe(2);
    expect(s.ttft.p50).toBeCloseTo(0.3, 12);
    expect(s.itl.count).toBe(3);
    expect(s.e2e.max).toBeCloseTo(1.995, 12);
    expect(s.windowSeconds).toBeCloseTo(2, 12);
    expect(s.inputTokensPerSecond).toBeCloseTo(100, 12);
    expect(s.outputTokensPerSecond).toBeCloseTo(3, 12);
    expect(s.cacheHitRate).toBeCloseTo(0.25, 12);
    expect(s.perEndpoint).toEqual({ a: 2, b: 0 });
    expect(s.imbalanceMaxOverMean).toBe(2);
    expect(s.lagMs.max).toBe(5);
    expect(s.cachedTokenShare).toBeNaN();
  });

  test("bench stage aggregation - dependency waits are not load-generator lag; no counters -> NaN hit rate", () => {
    const s = aggregateStage({
      name: "s",
      rate: 1,
      warmup: false,
      records: [
        rec({
          scheduledAt: 0,
          sentAt: 3000,
          dependencyWaitMs: 2990,
          firstTokenAt: 3100,
          endAt: 4000,
          cachedTokens: 50,
        }),
      ],
      counters: null,
      endpoints: ["a"],
    });
    expect(s.lagMs.max).toBeCloseTo(10, 9);
    expect(s.dependencyWaitMs.max).toBe(2990);
    expect(s.cacheHitRate).toBeNaN();
    expect(s.cachedTokenShare).toBeCloseTo(0.5, 12);
  });
});
