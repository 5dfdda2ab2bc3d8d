import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SpeculativePrefixes } from "../../src/plugins/prefix-cache/speculative-prefixes.ts";

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

describe("speculative prefixes", () => {
  it("speculative prefixes - longest shared token prefix per pod, within scope and candidates", () => {
    const s = new SpeculativePrefixes({ ttlMs: 2000 });
    s.record("a", "m", range(300), 0);
    s.record("b", "m", [...range(100), 9999, ...range(100, 101)], 0);
    s.record("c", "other-model", range(300), 0);
    const asked = range(200);
    expect(Object.fromEntries(s.match("m", asked, undefined, 10))).toEqual({ a: 200, b: 100 });
    expect(Object.fromEntries(s.match("m", asked, new Set(["b", "c"]), 10))).toEqual({ b: 100 });
    // Prompts that differ within their first 64 tokens (another group) match nothing.
    expect(s.match("m", [7, ...range(200)], undefined, 10).size).toBe(0);
  });

  it("speculative prefixes - a pod keeps its newest prompt per group, so a match compares one per pod", () => {
    const s = new SpeculativePrefixes({ ttlMs: 2000 });
    for (let i = 0; i < 50; i++) s.record("a", "m", [...range(100), i], i);
    s.record("a", "m", range(80), 60);
    expect(s.size(61)).toBe(1);
    expect(Object.fromEntries(s.match("m", range(200), undefined, 61))).toEqual({ a: 80 });
  });

  it("speculative prefixes - entries expire after the TTL, in order", () => {
    const s = new SpeculativePrefixes({ ttlMs: 2000 });
    s.record("a", "m", range(100), 0);
    s.record("b", "m", range(100), 1500);
    expect(s.size(1999)).toBe(2);
    expect(Object.fromEntries(s.match("m", range(100), undefined, 2000))).toEqual({ b: 100 });
    expect(s.size(3500)).toBe(0);
    // A TTL of 0 records nothing.
    const off = new SpeculativePrefixes({ ttlMs: 0 });
    off.record("a", "m", range(10), 0);
    expect(off.size(0)).toBe(0);
  });

  it("speculative prefixes - holds at most maxEntries, dropping the oldest; keeps a copy of the tokens", () => {
    const s = new SpeculativePrefixes({ ttlMs: 10_000, maxEntries: 3 });
    const tokens = range(20);
    for (const pod of ["a", "b", "c", "d"]) s.record(pod, "m", tokens, 0);
    tokens.fill(0);
    expect(s.size(1)).toBe(3);
    expect([...s.match("m", range(20), undefined, 1).keys()].sort()).toEqual(["b", "c", "d"]);
  });

  it("speculative prefixes - matches a model of newest live prompt per (pod, first tokens), through expiry and bounds", () => {
    const op = fc.record({
      pod: fc.constantFrom("a", "b", "c"),
      tokens: fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 8 }),
      advanceMs: fc.integer({ min: 0, max: 400 }),
    });
    const query = fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 8 });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), query, (ops, asked) => {
        const s = new SpeculativePrefixes({ ttlMs: 1000, bucketTokens: 2, maxEntries: 8 });
        let model: { pod: string; tokens: number[]; at: number }[] = [];
        const bucket = (t: number[]) => t.slice(0, 2).join(",");
        let now = 0;
        for (const o of ops) {
          now += o.advanceMs;
          s.record(o.pod, "m", o.tokens, now);
          model = model.filter((e) => e.at + 1000 > now);
          if (o.tokens.length > 0) {
            model = model.filter((e) => !(e.pod === o.pod && bucket(e.tokens) === bucket(o.tokens)));
            model.push({ pod: o.pod, tokens: o.tokens, at: now });
            if (model.length > 8) model.shift();
          }
          const want = new Map<string, number>();
          if (asked.length > 0)
            for (const e of model) {
              if (bucket(e.tokens) !== bucket(asked)) continue;
              let n = 0;
              while (n < e.tokens.length && n < asked.length && e.tokens[n] === asked[n]) n++;
              want.set(e.pod, n);
            }
          expect(s.match("m", asked, undefined, now)).toEqual(want);
          expect(s.size(now)).toBe(model.length);
        }
      }),
      { numRuns: 200, seed: 3 },
    );
  });
});
