import { describe, expect, it } from "vitest";
import { PredictedLatencyFilter } from "../../src/plugins/predicted-latency/filter.ts";
import { PredictedLatencyScorer } from "../../src/plugins/predicted-latency/scorer.ts";
import { cycle, ep, linearLatency } from "../helpers.ts";

// linearLatency: TTFT = 10 + (uncached + queued) / 100 ms; TPOT = 5 + in-flight requests ms.
// 1600-token prompt: a holds it all but has 3000 queued (TTFT 40) and 1 request (TPOT 6);
// b is cold and idle (TTFT 26, TPOT 5); c is cold with 20 requests in flight (TTFT 26, TPOT 25).
const endpoints = () => [
  ep("a", { inflight: { prefillTokens: 3000, requests: 1 } }),
  ep("b"),
  ep("c", { inflight: { requests: 20 } }),
];

describe("predicted-latency", () => {
  it("predicted-latency-scorer - without objectives: best predicted TTFT over each endpoint's", () => {
    const s = new PredictedLatencyScorer(linearLatency).score(
      cycle({ promptTokens: 1600, matches: { a: 100 } }),
      endpoints(),
    );
    expect(s.get("b")).toBe(1);
    expect(s.get("c")).toBe(1);
    expect(s.get("a")).toBeCloseTo(26 / 40);
  });

  it("predicted-latency-scorer - with objectives: ranks by SLO headroom, misses below every hit", () => {
    const c = cycle({ promptTokens: 1600, matches: { a: 100 }, request: { sloTtftMs: 50, sloTpotMs: 10 } });
    const s = new PredictedLatencyScorer(linearLatency).score(c, endpoints());
    // Headroom: a min(10/50, 4/10) = 0.2; b min(24/50, 5/10) = 0.48; c TPOT 25 > 10: -1.5.
    expect(s.get("b")).toBeCloseTo(0.5 + 0.5 * 0.48);
    expect(s.get("a")).toBeCloseTo(0.5 + 0.5 * 0.2);
    expect(s.get("c")).toBe(0);
  });

  it("predicted-latency-filter - keeps endpoints predicted to meet the objectives (with headroom)", () => {
    const c = () =>
      cycle({ promptTokens: 1600, matches: { a: 100 }, request: { sloTtftMs: 50, sloTpotMs: 10 } });
    const pods = (f: PredictedLatencyFilter, x = c()) => f.filter(x, endpoints()).map((e) => e.pod);
    expect(
      pods(new PredictedLatencyFilter(linearLatency, { onUnattainable: "best-effort", headroom: 0 })),
    ).toEqual(["a", "b"]);
    expect(
      pods(new PredictedLatencyFilter(linearLatency, { onUnattainable: "best-effort", headroom: 0.3 })),
    ).toEqual(["b"]);
    // Nobody can: best-effort keeps all and flags; reject keeps none.
    const tight = () => cycle({ promptTokens: 1600, request: { sloTtftMs: 5 } });
    const be = tight();
    expect(
      pods(new PredictedLatencyFilter(linearLatency, { onUnattainable: "best-effort", headroom: 0 }), be),
    ).toHaveLength(3);
    expect(be.flags.map((f) => f.outcome)).toEqual(["SLO_UNATTAINABLE"]);
    expect(
      pods(new PredictedLatencyFilter(linearLatency, { onUnattainable: "reject", headroom: 0 }), tight()),
    ).toEqual([]);
    // No objectives: no filtering.
    expect(
      new PredictedLatencyFilter(linearLatency, { onUnattainable: "reject", headroom: 0 })
        .filter(cycle({ promptTokens: 1600 }), endpoints())
        .map((e) => e.pod),
    ).toEqual(["a", "b", "c"]);
  });
});
