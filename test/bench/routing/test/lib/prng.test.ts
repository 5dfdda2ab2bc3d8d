import { describe, expect, test } from "vitest";
import { Prng } from "../../lib/prng.ts";
import { Zipf } from "../../lib/zipf.ts";

describe("bench prng", () => {
  test("bench prng - same seed, same stream; different seed, different stream", () => {
    const a = new Prng(7);
    const b = new Prng(7);
    const c = new Prng(8);
    const xs = Array.from({ length: 5 }, () => a.u32());
    expect(Array.from({ length: 5 }, () => b.u32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.u32())).not.toEqual(xs);
  });

  test("bench prng - uniform draws cover [0,1) with the right mean", () => {
    const r = new Prng(1);
    let sum = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < 20_000; i++) {
      const x = r.next();
      sum += x;
      min = Math.min(min, x);
      max = Math.max(max, x);
    }
    expect(sum / 20_000).toBeCloseTo(0.5, 1);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
  });

  test("bench prng - exponential gaps have mean 1/rate", () => {
    const r = new Prng(3);
    let sum = 0;
    for (let i = 0; i < 20_000; i++) sum += r.exp(4);
    expect(sum / 20_000).toBeCloseTo(0.25, 1);
    expect(() => r.exp(0)).toThrow(RangeError);
  });

  test("bench prng - shuffle is a permutation and forks are independent of later draws", () => {
    const r = new Prng(5);
    const xs = r.shuffle(Array.from({ length: 50 }, (_, i) => i));
    expect([...xs].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(xs).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    const f1 = new Prng(9).fork("x").u32();
    const f2 = new Prng(9).fork("x").u32();
    const f3 = new Prng(9).fork("y").u32();
    expect(f1).toBe(f2);
    expect(f1).not.toBe(f3);
  });
});

describe("bench zipf", () => {
  test("bench zipf - s = 0 is uniform, probabilities sum to 1", () => {
    const z = new Zipf(4, 0);
    for (let k = 0; k < 4; k++) expect(z.probability(k)).toBeCloseTo(0.25, 12);
  });

  test("bench zipf - rank k has weight 1/k^s and samples follow it", () => {
    const z = new Zipf(10, 1);
    const h = 1 + 1 / 2 + 1 / 3 + 1 / 4 + 1 / 5 + 1 / 6 + 1 / 7 + 1 / 8 + 1 / 9 + 1 / 10;
    expect(z.probability(0)).toBeCloseTo(1 / h, 12);
    expect(z.probability(9)).toBeCloseTo(1 / 10 / h, 12);
    const r = new Prng(11);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 50_000; i++) counts[z.sample(r)]!++;
    expect(counts[0]! / 50_000).toBeCloseTo(1 / h, 1);
    expect(counts[0]!).toBeGreaterThan(counts[1]!);
    expect(counts[1]!).toBeGreaterThan(counts[9]!);
  });

  test("bench zipf - rejects bad parameters", () => {
    expect(() => new Zipf(0, 1)).toThrow(RangeError);
    expect(() => new Zipf(3, -1)).toThrow(RangeError);
  });
});
