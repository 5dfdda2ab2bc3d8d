import { describe, expect, it } from "vitest";
import { ConcurrencyDetector, UtilizationDetector } from "../../src/plugins/saturation/detectors.ts";
import { cycle, ep } from "../helpers.ts";

describe("utilization-detector", () => {
  const d = new UtilizationDetector({ queueDepthThreshold: 5, kvCacheUtilThreshold: 0.8 });
  it("utilization-detector - queue or KV usage over threshold saturates", () => {
    expect(d.saturated(cycle(), ep("a", { metrics: { waiting: 5 } }))).toBe(true);
    expect(d.saturated(cycle(), ep("a", { metrics: { waiting: 1, kvUsage: 0.9 } }))).toBe(true);
    expect(d.saturated(cycle(), ep("a", { metrics: { waiting: 4, kvUsage: 0.5 } }))).toBe(false);
  });
  it("utilization-detector - unreachable saturates, unknown metrics do not", () => {
    expect(d.saturated(cycle(), ep("a", { unreachable: true }))).toBe(true);
    expect(d.saturated(cycle(), ep("a"))).toBe(false);
  });
});

describe("concurrency-detector", () => {
  it("concurrency-detector - in-flight requests or tokens over the limit saturate", () => {
    const d = new ConcurrencyDetector({ maxConcurrency: 2, maxTokenConcurrency: 1000 });
    expect(d.saturated(cycle(), ep("a", { inflight: { requests: 2 } }))).toBe(true);
    expect(d.saturated(cycle(), ep("a", { inflight: { requests: 1, tokens: 1000 } }))).toBe(true);
    expect(d.saturated(cycle(), ep("a", { inflight: { requests: 1, tokens: 10 } }))).toBe(false);
  });
});
