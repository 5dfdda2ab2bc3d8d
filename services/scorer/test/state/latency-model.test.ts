import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type LatencyFeatures, LatencyModel, type PredictionError } from "../../src/state/latency-model.ts";
import { TtftPredictor } from "../../src/state/ttft-predictor.ts";

const PRIOR = { overheadMs: 20, prefillTokensPerSecond: 15_928, tpotMs: 20 };

/** A deterministic pseudo-random source, so the synthetic data is the same every run. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

function features(r: () => number): LatencyFeatures {
  const prompt = 500 + Math.floor(r() * 8000);
  const uncached = Math.floor(prompt * r());
  const inflight = Math.floor(r() * 40);
  return {
    uncachedTokens: uncached,
    promptTokens: prompt,
    queuedPrefillTokens: Math.floor(r() * 20_000),
    inflightRequests: inflight,
    inflightTokens: inflight * 3000,
    kvUsage: r(),
    waiting: Math.floor(r() * 5),
  };
}

/** A server whose prefill slows with KV pressure and long prompts: not linear in uncached + queued. */
function truth(f: LatencyFeatures): { ttftMs: number; tpotMs: number } {
  const u = f.uncachedTokens / 1000;
  const kv = f.kvUsage ?? 0;
  return {
    ttftMs:
      25 + 45 * u + 3 * u * u + 50 * (f.queuedPrefillTokens / 1000) + 60 * kv * u + 8 * (f.waiting ?? 0),
    tpotMs: 18 + 0.6 * f.inflightRequests + 4 * kv,
  };
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

describe("latency model", () => {
  it("latency model - converges on synthetic data (TTFT and TPOT) from the prior", () => {
    const r = rng(3);
    const model = new LatencyModel(PRIOR);
    const f0 = features(r);
    const before = Math.abs(model.predict("m", "", f0).ttftMs - truth(f0).ttftMs) / truth(f0).ttftMs;
    for (let i = 0; i < 3000; i++) {
      const f = features(r);
      const t = truth(f);
      const noise = 1 + (r() - 0.5) * 0.1;
      model.observe({
        model: "m",
        profile: "h100",
        features: f,
        ttftMs: t.ttftMs * noise,
        tpotMs: t.tpotMs * noise,
      });
    }
    const ttftErr: number[] = [];
    const tpotErr: number[] = [];
    for (let i = 0; i < 500; i++) {
      const f = features(r);
      const t = truth(f);
      const p = model.predict("m", "h100", f);
      ttftErr.push(Math.abs(p.ttftMs - t.ttftMs) / t.ttftMs);
      tpotErr.push(Math.abs(p.tpotMs - t.tpotMs) / t.tpotMs);
    }
    expect(before).toBeGreaterThan(0.1);
    expect(mean(ttftErr)).toBeLessThan(0.05);
    expect(mean(tpotErr)).toBeLessThan(0.05);
    // A profile never seen starts from the model-wide fit, not from the prior.
    const f = features(r);
    expect(Math.abs(model.predict("m", "a100", f).ttftMs - truth(f).ttftMs) / truth(f).ttftMs).toBeLessThan(
      0.1,
    );
    expect(model.describe("m", "h100").samples).toBe(3000);
  });

  it("latency model - cold start predicts from the prior and never a negative time", () => {
    const model = new LatencyModel(PRIOR);
    const f = { ...features(rng(1)), uncachedTokens: 8000, queuedPrefillTokens: 0 };
    expect(model.predict("new", "", f).ttftMs).toBeCloseTo(20 + (8000 / 15_928) * 1000, 0);
    expect(model.predict("new", "", f).tpotMs).toBe(20);
    // Samples that pull the fit below zero for short prompts still predict >= 0.
    for (let i = 0; i < 50; i++)
      model.observe({ model: "neg", profile: "", features: { ...f, uncachedTokens: 8000 + i }, ttftMs: 0 });
    expect(
      model.predict("neg", "", { ...f, uncachedTokens: 0, promptTokens: 0 }).ttftMs,
    ).toBeGreaterThanOrEqual(0);
  });

  it("latency model - reports each prediction's error before learning from it", () => {
    const errors: PredictionError[] = [];
    const model = new LatencyModel(PRIOR, { onError: (e) => errors.push(e) });
    const f = features(rng(2));
    const before = model.predict("m", "", f);
    model.observe({ model: "m", profile: "", features: f, ttftMs: 500, tpotMs: 30 });
    expect(errors.map((e) => [e.target, e.actualMs])).toEqual([
      ["ttft", 500],
      ["tpot", 30],
    ]);
    expect(errors.map((e) => e.predictedMs)).toEqual([before.ttftMs, before.tpotMs]);
    expect(model.predict("m", "", f).ttftMs).not.toBe(before.ttftMs);
  });

  it("latency model - beats the linear TTFT fit on a trace recorded from model-sim", () => {
    // test/bench/latency-trace/record.ts: one Qwen3-32B TP2 model-sim engine, rate ramp 0.3 -> 3.5 -> 0.3 req/s.
    const rows = readFileSync(join(import.meta.dirname, "../fixtures/latency-trace.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as LatencyFeatures & { ttftMs: number; tpotMs: number | null });
    expect(rows.length).toBe(2000);
    const learned = new LatencyModel(PRIOR);
    const linear = new TtftPredictor(PRIOR);
    const errLearned: number[] = [];
    const errLinear: number[] = [];
    const errTpot: number[] = [];
    // Prequential: predict each request before learning from it, as the scorer does online.
    for (const [i, r] of rows.entries()) {
      const p = learned.predict("m", "", r);
      const q = linear.predictTtftMs("m", "", r);
      if (i >= 200) {
        errLearned.push(Math.abs(p.ttftMs - r.ttftMs));
        errLinear.push(Math.abs(q - r.ttftMs));
        if (r.tpotMs !== null) errTpot.push(Math.abs(p.tpotMs - r.tpotMs) / r.tpotMs);
      }
      learned.observe({
        model: "m",
        profile: "",
        features: r,
        ttftMs: r.ttftMs,
        tpotMs: r.tpotMs ?? undefined,
      });
      linear.observe({
        model: "m",
        uncachedTokens: r.uncachedTokens,
        queuedPrefillTokens: r.queuedPrefillTokens,
        ttftMs: r.ttftMs,
      });
    }
    const ratio = mean(errLearned) / mean(errLinear);
    process.stdout.write(
      `latency trace: TTFT MAE learned ${mean(errLearned).toFixed(1)} ms, linear ${mean(errLinear).toFixed(1)} ms (ratio ${ratio.toFixed(2)}); TPOT mean relative error ${(100 * mean(errTpot)).toFixed(1)}%\n`,
    );
    expect(ratio).toBeLessThan(0.9);
    expect(mean(errTpot)).toBeLessThan(0.25);
  });

  it("latency model - never learns that load makes a server faster, whatever it is trained on", () => {
    // The router trains the model on its own choices: a prompt usually goes to the server holding its
    // prefix, which is usually the busiest, so "busy" and "fast" come together in the samples. An
    // unconstrained fit turns that into negative load weights and, once no server holds the prefix,
    // ranks the busiest server first (the herd after a fleet-wide prefix-cache reset).
    const load = fc.record({
      uncachedTokens: fc.integer({ min: 0, max: 16_000 }),
      queuedPrefillTokens: fc.integer({ min: 0, max: 60_000 }),
      inflightRequests: fc.integer({ min: 0, max: 64 }),
      inflightTokens: fc.integer({ min: 0, max: 300_000 }),
      kvUsage: fc.double({ min: 0, max: 1, noNaN: true }),
      waiting: fc.integer({ min: 0, max: 16 }),
    });
    const sample = fc.record({ load, ttftMs: fc.double({ min: 1, max: 20_000, noNaN: true }) });
    fc.assert(
      fc.property(fc.array(sample, { minLength: 1, maxLength: 300 }), load, load, (samples, base, extra) => {
        const model = new LatencyModel(PRIOR);
        for (const s of samples) {
          const f = { ...s.load, promptTokens: s.load.uncachedTokens };
          model.observe({ model: "m", profile: "", features: f, ttftMs: s.ttftMs, tpotMs: s.ttftMs / 50 });
        }
        const idle: LatencyFeatures = { ...base, promptTokens: base.uncachedTokens + 1000 };
        const busier: LatencyFeatures = {
          uncachedTokens: idle.uncachedTokens + extra.uncachedTokens,
          promptTokens: idle.promptTokens + extra.uncachedTokens,
          queuedPrefillTokens: idle.queuedPrefillTokens + extra.queuedPrefillTokens,
          inflightRequests: idle.inflightRequests + extra.inflightRequests,
          inflightTokens: idle.inflightTokens + extra.inflightTokens,
          kvUsage: Math.min(1, (idle.kvUsage ?? 0) + (extra.kvUsage ?? 0)),
          waiting: (idle.waiting ?? 0) + (extra.waiting ?? 0),
        };
        const slack = 1e-6 * (1 + model.predictTtftMs("m", "", busier));
        expect(model.predictTtftMs("m", "", busier)).toBeGreaterThanOrEqual(
          model.predictTtftMs("m", "", idle) - slack,
        );
        expect(model.predict("m", "", busier).tpotMs).toBeGreaterThanOrEqual(
          model.predict("m", "", idle).tpotMs - slack,
        );
      }),
      { numRuns: 200, seed: 5 },
    );
  });

  it("latency model - a young fit ranks by tokens to prefill, not by load it has barely seen", () => {
    // Right after start: one cold prompt, then hits on its holder; one hit ran beside another request
    // on a busy machine and took 600 ms. Ten weights from 12 samples would pin that on "a request in
    // flight" and rank the idle cold servers ahead of the holder; the core fit does not.
    const train = (model: LatencyModel) => {
      const cold = { ...features(rng(4)), uncachedTokens: 6000, promptTokens: 6000 };
      const idle = { queuedPrefillTokens: 0, inflightRequests: 0, inflightTokens: 0, kvUsage: 0, waiting: 0 };
      model.observe({ model: "m", profile: "", features: { ...cold, ...idle }, ttftMs: 420 });
      for (let i = 0; i < 11; i++) {
        const busy = i === 5;
        const hit: LatencyFeatures = {
          ...idle,
          uncachedTokens: 100,
          promptTokens: 6100,
          inflightRequests: busy ? 1 : 0,
          inflightTokens: busy ? 6100 : 0,
          kvUsage: 0.05,
        };
        model.observe({ model: "m", profile: "", features: hit, ttftMs: busy ? 600 : 40 });
      }
    };
    const holder: LatencyFeatures = {
      uncachedTokens: 100,
      promptTokens: 6100,
      queuedPrefillTokens: 0,
      inflightRequests: 1,
      inflightTokens: 6100,
      kvUsage: 0.05,
      waiting: 0,
    };
    const coldServer: LatencyFeatures = {
      ...holder,
      uncachedTokens: 6100,
      inflightRequests: 0,
      inflightTokens: 0,
      kvUsage: 0,
    };
    const young = new LatencyModel(PRIOR);
    train(young);
    expect(young.predictTtftMs("m", "", holder)).toBeLessThan(young.predictTtftMs("m", "", coldServer) - 250);
    // The same samples with every weight in use from the first: the holder looks slower than a cold server.
    const eager = new LatencyModel(PRIOR, { minSamples: 0 });
    train(eager);
    expect(eager.predictTtftMs("m", "", holder)).toBeGreaterThan(eager.predictTtftMs("m", "", coldServer));
  });
});
