import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SpeculativePrefixes } from "../../src/plugins/prefix-cache/speculative-prefixes.ts";

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

describe("speculative prefixes", () => {
  it("speculative prefixes - longest shared token prefix per pod, within scope and candidates", () => {
    const s = new SpeculativePrefixes({ ttlMs: 2000 });
    s.record("a", "m", range(300), 0);
    s.record("a", "m", range(100), 0);
    s.record("b", "m", [...range(50), 9999, ...range(100, 51)], 0);
    s.record("c", "other-model", range(300), 0);
    const asked = range(200);
    expect(Object.fromEntries(s.match("m", asked, undefined, 10))).toEqual({ a: 200, b: 50 });
    expect(Object.fromEntries(s.match("m", asked, new Set(["b", "c"]), 10))).toEqual({ b: 50 });
    expect(s.match("m", [7, ...range(10)], undefined, 10).size).toBe(0);
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

  it("speculative prefixes - matches what a list of live records says, through expiry and compaction", () => {
    const op = fc.record({
      pod: fc.constantFrom("a", "b", "c"),
      tokens: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 12 }),
      advanceMs: fc.integer({ min: 0, max: 400 }),
    });
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 300 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 12 }),
        (ops, asked) => {
          const s = new SpeculativePrefixes({ ttlMs: 1000 });
          const model: { pod: string; tokens: number[]; at: number }[] = [];
          let now = 0;
          for (const o of ops) {
            now += o.advanceMs;
            s.record(o.pod, "m", o.tokens, now);
            if (o.tokens.length > 0) model.push({ pod: o.pod, tokens: o.tokens, at: now });
            const want = new Map<string, number>();
            for (const e of model) {
              if (e.at + 1000 <= now) continue;
              let n = 0;
              while (n < e.tokens.length && n < asked.length && e.tokens[n] === asked[n]) n++;
              if (n > (want.get(e.pod) ?? 0)) want.set(e.pod, n);
            }
            expect(s.match("m", asked, undefined, now)).toEqual(want);
          }
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });
});
