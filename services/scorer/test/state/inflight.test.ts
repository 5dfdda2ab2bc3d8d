import { describe, expect, it } from "vitest";
import { InflightTracker, type LifecycleEvent } from "../../src/state/inflight.ts";

const ev = (over: Partial<LifecycleEvent>): LifecycleEvent => ({
  requestId: "r1",
  phase: "routed",
  baseModel: "m",
  endpoint: "a",
  prefillEndpoint: "",
  sessionId: "",
  promptTokens: 1000,
  cachedTokens: 0,
  ttftSeconds: 0,
  queueSeconds: 0,
  ...over,
});

const tracker = () => new InflightTracker({ speculativeTtlMs: 5_000, maxAgeMs: 60_000 });

describe("in-flight accounting", () => {
  it("inflight - routed -> first token -> completed moves prefill and frees the request", () => {
    const t = tracker();
    t.apply(ev({ cachedTokens: 400 }), 0);
    expect(t.load("a")).toEqual({ requests: 1, tokens: 1000, prefillTokens: 600 });
    t.apply(ev({ phase: "first_token", ttftSeconds: 0.2 }), 10);
    expect(t.load("a")).toEqual({ requests: 1, tokens: 1000, prefillTokens: 0 });
    t.apply(ev({ phase: "completed" }), 20);
    expect(t.load("a")).toEqual({ requests: 0, tokens: 0, prefillTokens: 0 });
  });

  it("inflight - events are idempotent and late events do not resurrect finished requests", () => {
    const t = tracker();
    t.apply(ev({}), 0);
    t.apply(ev({}), 1);
    expect(t.load("a").requests).toBe(1);
    t.apply(ev({ phase: "failed" }), 2);
    t.apply(ev({}), 3);
    expect(t.load("a").requests).toBe(0);
  });

  it("inflight - finished ids are forgotten after the retention window", () => {
    const t = new InflightTracker({ speculativeTtlMs: 5_000, maxAgeMs: 1_000_000 });
    t.apply(ev({ phase: "completed" }), 0);
    t.apply(ev({}), 1);
    expect(t.load("a").requests).toBe(0);
    t.sweep(121_000);
    t.apply(ev({}), 121_001);
    expect(t.load("a").requests).toBe(1);
  });

  it("inflight - a second ROUTED (gateway fallback) moves the request", () => {
    const t = tracker();
    t.apply(ev({}), 0);
    t.apply(ev({ endpoint: "b" }), 1);
    expect(t.load("a").requests).toBe(0);
    expect(t.load("b").requests).toBe(1);
  });

  it("inflight - own pick counts until confirmed; the pick's cached estimate survives a ROUTED without one", () => {
    const t = tracker();
    t.picked(
      { requestId: "r1", baseModel: "m", pod: "a", prefillPod: "", promptTokens: 1000, cachedTokens: 900 },
      0,
    );
    expect(t.load("a").prefillTokens).toBe(100);
    t.apply(ev({ cachedTokens: 0 }), 1);
    expect(t.load("a")).toEqual({ requests: 1, tokens: 1000, prefillTokens: 100 });
  });

  it("inflight - unconfirmed picks expire after the speculative TTL, confirmed ones after max age", () => {
    const t = tracker();
    t.picked(
      { requestId: "s", baseModel: "m", pod: "a", prefillPod: "", promptTokens: 10, cachedTokens: 0 },
      0,
    );
    t.apply(ev({ requestId: "c" }), 0);
    t.sweep(6_000);
    expect(t.load("a").requests).toBe(1);
    t.sweep(61_000);
    expect(t.load("a").requests).toBe(0);
  });

  it("inflight - P/D: the prefill pod carries the prefill until the first token", () => {
    const t = tracker();
    t.apply(ev({ endpoint: "d", prefillEndpoint: "p" }), 0);
    expect(t.load("p")).toEqual({ requests: 1, tokens: 1000, prefillTokens: 1000 });
    expect(t.load("d")).toEqual({ requests: 1, tokens: 1000, prefillTokens: 0 });
    t.apply(ev({ phase: "first_token", endpoint: "d", prefillEndpoint: "p" }), 1);
    expect(t.load("p").requests).toBe(0);
  });

  it("inflight - first token yields a TTFT sample with the queue seen at routing, gateway queue removed", () => {
    const t = tracker();
    t.apply(ev({ requestId: "x", promptTokens: 3000 }), 0);
    t.apply(ev({ requestId: "y", promptTokens: 500, cachedTokens: 100 }), 0);
    const s = t.apply(ev({ requestId: "y", phase: "first_token", ttftSeconds: 0.5, queueSeconds: 0.1 }), 1);
    expect(s).toEqual({ model: "m", uncachedTokens: 400, queuedPrefillTokens: 3000, ttftMs: 400 });
  });
});
