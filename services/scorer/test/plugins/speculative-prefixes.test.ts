import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { blockHashes, seedFor } from "../../src/plugins/prefix-cache/block-hash.ts";
import { SpeculativePrefixes } from "../../src/plugins/prefix-cache/speculative-prefixes.ts";

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

/** The producer's block keys of a prompt of model `scope`, in `blockSize`-token blocks. */
const keys = (scope: string, tokens: number[], blockSize: number) =>
  blockHashes(tokens, blockSize, seedFor(scope, undefined, ""), 1000);

function record(
  s: SpeculativePrefixes,
  pod: string,
  scope: string,
  tokens: number[],
  nowMs: number,
  blockSize = 16,
): void {
  s.record(pod, keys(scope, tokens, blockSize), nowMs);
}

/** Shared tokens per pod, in whole blocks. */
function match(
  s: SpeculativePrefixes,
  scope: string,
  tokens: number[],
  candidates: ReadonlySet<string> | undefined,
  nowMs: number,
  blockSize = 16,
): Map<string, number> {
  const blocks = s.match(keys(scope, tokens, blockSize), candidates, nowMs);
  return new Map([...blocks].map(([pod, n]) => [pod, n * blockSize]));
}

describe("speculative prefixes", () => {
  it("speculative prefixes - longest shared prefix per pod in whole 16-token blocks, within scope and candidates", () => {
    const s = new SpeculativePrefixes({ ttlMs: 2000 });
    record(s, "a", "m", range(300), 0);
    record(s, "b", "m", [...range(100), 9999, ...range(100, 101)], 0);
    record(s, "c", "other-model", range(300), 0);
    const asked = range(200);
    // 200 tokens are 12 whole blocks (192); b shares 100 tokens, 6 whole blocks (96).
    expect(Object.fromEntries(match(s, "m", asked, undefined, 10))).toEqual({ a: 192, b: 96 });
    expect(Object.fromEntries(match(s, "m", asked, new Set(["b", "c"]), 10))).toEqual({ b: 96 });
    // Prompts that differ within their first 64 tokens (another group) match nothing.
    expect(match(s, "m", [7, ...range(200)], undefined, 10).size).toBe(0);
  });

  it("speculative prefixes - a pod keeps its newest prompt per group, so a match compares one per pod", () => {
    const s = new SpeculativePrefixes({ ttlMs: 2000 });
    for (let i = 0; i < 50; i++) record(s, "a", "m", [...range(100), i], i);
    record(s, "a", "m", range(80), 60);
    expect(s.size(61)).toBe(1);
    expect(Object.fromEntries(match(s, "m", range(200), undefined, 61))).toEqual({ a: 80 });
  });

  it("speculative prefixes - a bucket keeps its most recently chosen pods", () => {
    const s = new SpeculativePrefixes({ ttlMs: 2000, podsPerBucket: 2 });
    for (const pod of ["a", "b", "a", "c"]) record(s, pod, "m", range(100), 0);
    expect([...match(s, "m", range(100), undefined, 1).keys()].sort()).toEqual(["a", "c"]);
    expect(s.size(1)).toBe(2);
  });

  it("speculative prefixes - entries expire after the TTL, in order", () => {
    const s = new SpeculativePrefixes({ ttlMs: 2000 });
    record(s, "a", "m", range(100), 0);
    record(s, "b", "m", range(100), 1500);
    expect(s.size(1999)).toBe(2);
    expect(Object.fromEntries(match(s, "m", range(100), undefined, 2000))).toEqual({ b: 96 });
    expect(s.size(3500)).toBe(0);
    // A TTL of 0 records nothing.
    const off = new SpeculativePrefixes({ ttlMs: 0 });
    record(off, "a", "m", range(10), 0);
    expect(off.size(0)).toBe(0);
  });

  it("speculative prefixes - holds at most maxEntries, dropping the oldest; later changes to the tokens do not matter", () => {
    const s = new SpeculativePrefixes({ ttlMs: 10_000, maxEntries: 3 });
    const tokens = range(20);
    for (const pod of ["a", "b", "c", "d"]) record(s, pod, "m", tokens, 0);
    tokens.fill(0);
    expect(s.size(1)).toBe(3);
    expect([...match(s, "m", range(20), undefined, 1).keys()].sort()).toEqual(["b", "c", "d"]);
  });

  it("speculative prefixes - matches a model (newest prompt per pod and first tokens, most recent pods per bucket) through expiry and bounds", () => {
    const op = fc.record({
      pod: fc.constantFrom("a", "b", "c"),
      tokens: fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 8 }),
      advanceMs: fc.integer({ min: 0, max: 400 }),
    });
    const query = fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 8 });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), query, (ops, asked) => {
        const s = new SpeculativePrefixes({
          ttlMs: 1000,
          bucketBlocks: 1,
          maxEntries: 8,
          podsPerBucket: 2,
        });
        let model: { pod: string; tokens: number[]; at: number }[] = [];
        const bucket = (t: number[]) => t.slice(0, 2).join(",");
        let now = 0;
        for (const o of ops) {
          now += o.advanceMs;
          record(s, o.pod, "m", o.tokens, now, 2);
          model = model.filter((e) => e.at + 1000 > now);
          if (o.tokens.length >= 2) {
            model = model.filter((e) => !(e.pod === o.pod && bucket(e.tokens) === bucket(o.tokens)));
            const same = model.filter((e) => bucket(e.tokens) === bucket(o.tokens));
            if (same.length >= 2) model = model.filter((e) => e !== same[0]);
            model.push({ pod: o.pod, tokens: o.tokens, at: now });
            if (model.length > 8) model.shift();
          }
          const want = new Map<string, number>();
          if (asked.length >= 2)
            for (const e of model) {
              if (bucket(e.tokens) !== bucket(asked)) continue;
              let n = 0;
              while (n < e.tokens.length && n < asked.length && e.tokens[n] === asked[n]) n++;
              want.set(e.pod, Math.floor(n / 2) * 2);
            }
          expect(match(s, "m", asked, undefined, now, 2)).toEqual(want);
          expect(s.size(now)).toBe(model.length);
        }
      }),
      { numRuns: 200, seed: 3 },
    );
  });
});
