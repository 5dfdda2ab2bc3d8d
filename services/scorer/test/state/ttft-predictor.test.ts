import { describe, expect, it } from "vitest";
import { TtftPredictor } from "../../src/state/ttft-predictor.ts";

describe("TTFT predictor", () => {
  it("ttft - predicts from the prior before any observation", () => {
    const p = new TtftPredictor({ overheadMs: 20, prefillTokensPerSecond: 10_000 });
    // 20 ms + 5000 tokens / 10k tok/s.
    expect(p.predictMs("m", 5000, 0)).toBeCloseTo(520);
    expect(p.predictMs("m", 0, 5000)).toBeCloseTo(520);
  });

  it("ttft - fits a server slower than the prior from observations", () => {
    const p = new TtftPredictor({ overheadMs: 20, prefillTokensPerSecond: 10_000 });
    // True server: 50 ms + 1 ms per 10 uncached tokens + 1 ms per 20 queued tokens.
    let seed = 7;
    const rnd = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    for (let i = 0; i < 400; i++) {
      const u = Math.floor(rnd() * 8000);
      const q = Math.floor(rnd() * 20000);
      p.observe({ model: "m", uncachedTokens: u, queuedPrefillTokens: q, ttftMs: 50 + u / 10 + q / 20 });
    }
    expect(p.predictMs("m", 4000, 10000)).toBeCloseTo(50 + 400 + 500, 0);
    expect(p.coefficients("m").samples).toBe(400);
    // Another model keeps its prior.
    expect(p.predictMs("other", 5000, 0)).toBeCloseTo(520);
  });

  it("ttft - ignores invalid samples and never predicts below zero", () => {
    const p = new TtftPredictor({ overheadMs: 0, prefillTokensPerSecond: 1000 });
    p.observe({ model: "m", uncachedTokens: 10, queuedPrefillTokens: 0, ttftMs: Number.NaN });
    expect(p.coefficients("m").samples).toBe(0);
    for (let i = 0; i < 50; i++)
      p.observe({ model: "m", uncachedTokens: 1000 * i, queuedPrefillTokens: 0, ttftMs: 0 });
    expect(p.predictMs("m", 100, 100)).toBeGreaterThanOrEqual(0);
  });
});
