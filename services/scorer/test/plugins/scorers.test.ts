import { describe, expect, it } from "vitest";
import { ActiveRequestScorer } from "../../src/plugins/active-request/scorer.ts";
import { KvCacheUtilizationScorer } from "../../src/plugins/kv-cache-utilization/scorer.ts";
import { LoadAwareScorer, loadAwareScorerFactory } from "../../src/plugins/load-aware/scorer.ts";
import { QueueScorer } from "../../src/plugins/queue/scorer.ts";
import { RunningRequestsSizeScorer } from "../../src/plugins/running-requests/scorer.ts";
import { TokenLoadScorer } from "../../src/plugins/token-load/scorer.ts";
import { cycle, ep, handle, params } from "../helpers.ts";

describe("queue-scorer", () => {
  it("queue-scorer - min-max over waiting queues, shortest scores 1", () => {
    const s = new QueueScorer().score(cycle(), [
      ep("a", { metrics: { waiting: 0 } }),
      ep("b", { metrics: { waiting: 10 } }),
      ep("c", { metrics: { waiting: 5 } }),
    ]);
    expect(Object.fromEntries(s)).toEqual({ a: 1, b: 0, c: 0.5 });
  });
  it("queue-scorer - all equal scores 1, unknown queue stays unscored", () => {
    const s = new QueueScorer().score(cycle(), [
      ep("a", { metrics: { waiting: 3 } }),
      ep("b", { metrics: { waiting: 3 } }),
      ep("c"),
    ]);
    expect(Object.fromEntries(s)).toEqual({ a: 1, b: 1 });
    expect(s.has("c")).toBe(false);
  });
});

describe("kv-cache-utilization-scorer", () => {
  it("kv-cache-utilization-scorer - scores 1 - usage, unknown unscored", () => {
    const s = new KvCacheUtilizationScorer().score(cycle(), [
      ep("a", { metrics: { kvUsage: 0.25 } }),
      ep("b", { metrics: {} }),
    ]);
    expect(s.get("a")).toBeCloseTo(0.75);
    expect(s.has("b")).toBe(false);
  });
});

describe("load-aware-scorer", () => {
  it("load-aware-scorer - llm-d formula: idle 0.5, half threshold 0.25, beyond threshold 0", () => {
    const s = new LoadAwareScorer({ threshold: 128, signal: "queue" }).score(cycle(), [
      ep("idle", { metrics: { waiting: 0 } }),
      ep("half", { metrics: { waiting: 64 } }),
      ep("over", { metrics: { waiting: 500 } }),
      ep("unknown"),
    ]);
    expect(Object.fromEntries(s)).toEqual({ idle: 0.5, half: 0.25, over: 0 });
  });
  it("load-aware-scorer - inflightTokens signal reads in-flight tokens", () => {
    const scorer = loadAwareScorerFactory(
      "la",
      params("load-aware-scorer", { signal: "inflightTokens", threshold: 1000 }),
      handle(),
    );
    const s = scorer.score(cycle(), [ep("a", { inflight: { tokens: 500 } }), ep("b")]);
    expect(Object.fromEntries(s)).toEqual({ a: 0.25, b: 0.5 });
  });
  it("load-aware-scorer - rejects a non-numeric threshold naming the plugin", () => {
    expect(() =>
      loadAwareScorerFactory("la", params("load-aware-scorer", { threshold: "many" }, "la"), handle()),
    ).toThrow(/plugin "la" \(type load-aware-scorer\): parameter "threshold" must be a number/);
  });
});

describe("token-load-scorer", () => {
  it("token-load-scorer - 1 - tokens/threshold, clamped at 0", () => {
    const s = new TokenLoadScorer(1000).score(cycle(), [
      ep("a", { inflight: { tokens: 250 } }),
      ep("b", { inflight: { tokens: 5000 } }),
      ep("c"),
    ]);
    expect(Object.fromEntries(s)).toEqual({ a: 0.75, b: 0, c: 1 });
  });
});

describe("active-request-scorer", () => {
  it("active-request-scorer - idle endpoints 1, busiest 0", () => {
    const s = new ActiveRequestScorer(1).score(cycle(), [
      ep("idle", { inflight: { requests: 1 } }),
      ep("mid", { inflight: { requests: 3 } }),
      ep("busy", { inflight: { requests: 5 } }),
    ]);
    expect(Object.fromEntries(s)).toEqual({ idle: 1, mid: 0.5, busy: 0 });
  });
});

describe("running-requests-size-scorer", () => {
  it("running-requests-size-scorer - min-max over running requests, unknown unscored", () => {
    const s = new RunningRequestsSizeScorer().score(cycle(), [
      ep("a", { metrics: { running: 2 } }),
      ep("b", { metrics: { running: 6 } }),
      ep("c"),
    ]);
    expect(Object.fromEntries(s)).toEqual({ a: 1, b: 0 });
  });
});
