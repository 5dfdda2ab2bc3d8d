import { describe, expect, it } from "vitest";
import type { ScoredEndpoint } from "../../src/framework/types.ts";
import { MaxScorePicker } from "../../src/plugins/max-score/picker.ts";
import { RandomPicker } from "../../src/plugins/random/picker.ts";
import { RoundRobinPicker } from "../../src/plugins/round-robin/picker.ts";
import { WeightedRandomPicker } from "../../src/plugins/weighted-random/picker.ts";
import { cycle, ep } from "../helpers.ts";

const scored = (totals: Record<string, number>): ScoredEndpoint[] =>
  Object.entries(totals).map(([pod, total]) => ({ endpoint: ep(pod), total, scores: new Map() }));
const pods = (s: readonly ScoredEndpoint[]): string[] => s.map((x) => x.endpoint.pod);

function seq(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe("max-score-picker", () => {
  it("max-score-picker - best first, full order by default", () => {
    expect(pods(new MaxScorePicker().pick(cycle(), scored({ a: 0.2, b: 0.9, c: 0.5 })))).toEqual([
      "b",
      "c",
      "a",
    ]);
  });
  it("max-score-picker - maxNumOfEndpoints caps the list", () => {
    expect(pods(new MaxScorePicker(1).pick(cycle(), scored({ a: 0.2, b: 0.9 })))).toEqual(["b"]);
  });
  it("max-score-picker - ties are broken at random", () => {
    const first = (r: number[]) =>
      pods(new MaxScorePicker().pick(cycle({ random: seq(r) }), scored({ a: 1, b: 1 })))[0];
    expect(first([0.9, 0.1])).toBe("b");
    expect(first([0.1, 0.9])).toBe("a");
  });
});

describe("random-picker", () => {
  it("random-picker - permutation of all candidates, driven by the random source", () => {
    const out = pods(new RandomPicker().pick(cycle({ random: seq([0, 0]) }), scored({ a: 1, b: 0.5, c: 0 })));
    expect([...out].sort()).toEqual(["a", "b", "c"]);
    expect(out).not.toEqual(["a", "b", "c"]);
  });
});

describe("round-robin-picker", () => {
  it("round-robin-picker - rotates the start on every pick", () => {
    const p = new RoundRobinPicker();
    const s = scored({ c: 1, a: 0, b: 0.5 });
    expect(pods(p.pick(cycle(), s))).toEqual(["a", "b", "c"]);
    expect(pods(p.pick(cycle(), s))).toEqual(["b", "c", "a"]);
    expect(pods(p.pick(cycle(), s))).toEqual(["c", "a", "b"]);
  });
});

describe("weighted-random-picker", () => {
  it("weighted-random-picker - higher scores come first proportionally more often; zero scores last", () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const p = new WeightedRandomPicker();
    const firsts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const out = pods(p.pick(cycle({ random }), scored({ a: 0.6, b: 0.3, z: 0 })));
      expect(out[2]).toBe("z");
      firsts.set(out[0]!, (firsts.get(out[0]!) ?? 0) + 1);
    }
    // P(a first) = 0.6 / 0.9 = 2/3.
    expect((firsts.get("a") ?? 0) / 3000).toBeGreaterThan(0.6);
    expect((firsts.get("a") ?? 0) / 3000).toBeLessThan(0.73);
  });
});
