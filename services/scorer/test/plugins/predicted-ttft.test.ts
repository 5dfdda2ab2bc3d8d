import { describe, expect, it } from "vitest";
import { CycleState } from "../../src/framework/cycle.ts";
import { PredictedTtftScorer } from "../../src/plugins/predicted-ttft/scorer.ts";
import { TokenProducer } from "../../src/plugins/token-producer/producer.ts";
import { LatencyModel } from "../../src/state/latency-model.ts";
import { cycle, ep, linearTtft, request } from "../helpers.ts";

describe("predicted-ttft-scorer", () => {
  it("predicted-ttft-scorer - best predicted TTFT over each endpoint's, credits cached prefix", () => {
    // 1600 tokens; a holds all of it but has 3000 queued: 10 + 30 = 40 ms; b cold idle: 10 + 16 = 26 ms;
    // c cold with 1000 queued: 10 + 26 = 36 ms.
    const c = cycle({ promptTokens: 1600, matches: { a: 100 } });
    const s = new PredictedTtftScorer(linearTtft).score(c, [
      ep("a", { inflight: { prefillTokens: 3000 } }),
      ep("b"),
      ep("c", { inflight: { prefillTokens: 1000 } }),
    ]);
    expect(s.get("b")).toBe(1);
    expect(s.get("a")).toBeCloseTo(26 / 40);
    expect(s.get("c")).toBeCloseTo(26 / 36);
  });

  it("predicted-ttft-scorer - ranks cold servers by their whole load, in the features the model learnt", () => {
    // Trained where a waiting request costs ~200 ms and the prefill queue little (what model-sim's
    // chunked prefill shows): with no prefix anywhere, the server with requests waiting ranks last even
    // though its own prefill queue is the shortest.
    const model = new LatencyModel({ overheadMs: 20, prefillTokensPerSecond: 15_928, tpotMs: 20 });
    for (let i = 0; i < 400; i++) {
      const waiting = i % 5;
      const features = {
        uncachedTokens: 6000,
        promptTokens: 6000,
        queuedPrefillTokens: (i % 3) * 1000,
        inflightRequests: waiting + 2,
        inflightTokens: (waiting + 2) * 6000,
        kvUsage: 0.3,
        waiting,
      };
      model.observe({ model: "m", profile: "", features, ttftMs: 400 + 200 * waiting + 5 * (i % 3) });
    }
    const c = cycle({ promptTokens: 6000 });
    const s = new PredictedTtftScorer(model).score(c, [
      ep("busy", {
        inflight: { prefillTokens: 0, requests: 6, tokens: 36_000 },
        metrics: { waiting: 4, kvUsage: 0.3 },
      }),
      ep("idle", {
        inflight: { prefillTokens: 2000, requests: 2, tokens: 12_000 },
        metrics: { waiting: 0, kvUsage: 0.3 },
      }),
    ]);
    expect(s.get("idle")).toBe(1);
    expect(s.get("busy")).toBeLessThan(0.5);
  });
});

describe("token-producer", () => {
  it("token-producer - uses the tokenizer when given, the estimate otherwise", () => {
    const prompt = { kind: "text" as const, text: "hello world!" };
    const withTok = new CycleState(request({ prompt }), 0);
    new TokenProducer(() => [1, 2, 3]).produce(withTok);
    expect(withTok.promptTokens).toBe(3);
    const estimated = new CycleState(request({ prompt }), 0);
    new TokenProducer(undefined).produce(estimated);
    expect(estimated.promptTokens).toBe(3);
    expect(Array.from(estimated.tokens ?? [])[0]).toBe(0x6c6c6568); // "hell" little-endian
  });
});
