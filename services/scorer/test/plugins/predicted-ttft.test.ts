import { describe, expect, it } from "vitest";
import { CycleState } from "../../src/framework/cycle.ts";
import { PredictedTtftScorer } from "../../src/plugins/predicted-ttft/scorer.ts";
import { TokenProducer } from "../../src/plugins/token-producer/producer.ts";
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
