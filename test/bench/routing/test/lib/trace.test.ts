import { describe, expect, test } from "vitest";
import type { WorkloadSpec } from "../../lib/options.ts";
import { Prng } from "../../lib/prng.ts";
import {
  buildTrace,
  constantArrivals,
  materialize,
  oraclePlacement,
  poissonArrivals,
} from "../../lib/trace.ts";

const WORDS = Array.from({ length: 300 }, (_, i) => ` w${i.toString(36)}`);

const SP: WorkloadSpec = {
  kind: "shared-prefix",
  numGroups: 6,
  numPromptsPerGroup: 3,
  systemPromptLen: 40,
  questionLen: 8,
  outputLen: 5,
  groupSkew: 0,
  turns: 3,
};

function words(text: string): number {
  return text.split(" ").length - 1;
}

describe("bench trace", () => {
  test("bench trace - Poisson arrivals: increasing, inside the stage, about rate x duration", () => {
    const xs = poissonArrivals(new Prng(1), 20, 100);
    expect(xs.length).toBeGreaterThan(1800);
    expect(xs.length).toBeLessThan(2200);
    for (let i = 1; i < xs.length; i++) expect(xs[i]!).toBeGreaterThan(xs[i - 1]!);
    expect(xs.at(-1)!).toBeLessThan(100);
    expect(constantArrivals(2, 3)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
  });

  test("bench trace - same seed gives the same trace, another seed another one", () => {
    const input = {
      workload: SP,
      warmup: { rate: 2, duration: 5 },
      ladder: [{ rate: 4, duration: 5 }],
      arrivals: "poisson" as const,
      seed: 42,
    };
    const a = buildTrace(input, WORDS);
    const b = buildTrace(input, WORDS);
    const c = buildTrace({ ...input, seed: 43 }, WORDS);
    const key = (t: typeof a) =>
      t.stages.flatMap((s) => s.requests.map((r) => `${r.at}|${r.group}|${materialize(r.user, WORDS)}`));
    expect(key(a)).toEqual(key(b));
    expect(key(a)).not.toEqual(key(c));
    expect(a.stages.map((s) => s.warmup)).toEqual([true, false]);
    expect(a.stages[1]!.requests[0]!.stage).toBe(1);
    expect(a.stages.flatMap((s) => s.requests).map((r) => r.index)).toEqual(
      Array.from({ length: a.stages[0]!.requests.length + a.stages[1]!.requests.length }, (_, i) => i),
    );
  });

  test("bench trace - shared prefix: one system prompt per group, shuffled cycle over every prompt", () => {
    const t = buildTrace(
      { workload: SP, warmup: null, ladder: [{ rate: 18, duration: 1 }], arrivals: "constant", seed: 1 },
      WORDS,
    );
    const reqs = t.stages[0]!.requests;
    expect(reqs).toHaveLength(18);
    // The first cycle holds each (group, question) exactly once.
    const seen = new Set(reqs.map((r) => `${r.group}|${materialize(r.user, WORDS)}`));
    expect(seen.size).toBe(18);
    // Not in group order (shuffled).
    expect(reqs.map((r) => r.group)).not.toEqual([...reqs.map((r) => r.group)].sort((a, b) => a - b));
    for (const r of reqs) {
      expect(words(r.system!)).toBe(40);
      expect(words(materialize(r.user, WORDS))).toBe(8);
      expect(r.textTokens).toBe(48);
      expect(r.maxTokens).toBe(5);
      expect(r.system).toBe(reqs.find((x) => x.group === r.group)!.system);
    }
    expect(new Set(reqs.map((r) => r.system)).size).toBe(6);
    expect(t.groupWeights).toEqual(new Array(6).fill(1 / 6));
  });

  test("bench trace - Zipf skew concentrates requests on a few groups", () => {
    const w = { ...SP, numGroups: 20, groupSkew: 1.2 };
    const t = buildTrace(
      { workload: w, warmup: null, ladder: [{ rate: 2000, duration: 1 }], arrivals: "constant", seed: 3 },
      WORDS,
    );
    const counts = new Array<number>(20).fill(0);
    for (const r of t.stages[0]!.requests) counts[r.group]!++;
    const hottest = counts.indexOf(Math.max(...counts));
    expect(t.groupWeights[hottest]).toBe(Math.max(...t.groupWeights));
    expect(Math.max(...counts) / 2000).toBeGreaterThan(0.2);
    expect(t.groupWeights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  test("bench trace - control shares nothing: unique prompts of the full length, no groups", () => {
    const w = { ...SP, kind: "control" as const };
    const t = buildTrace(
      { workload: w, warmup: null, ladder: [{ rate: 10, duration: 1 }], arrivals: "constant", seed: 2 },
      WORDS,
    );
    const reqs = t.stages[0]!.requests;
    const texts = reqs.map((r) => materialize(r.user, WORDS));
    expect(new Set(texts).size).toBe(reqs.length);
    for (const r of reqs) {
      expect(r.group).toBe(-1);
      expect(r.system).toBeNull();
      expect(r.textTokens).toBe(48);
    }
    expect(words(texts[0]!)).toBe(48);
    // Materialising twice gives the same text (what every policy sends).
    expect(materialize(reqs[0]!.user, WORDS)).toBe(texts[0]);
  });

  test("bench trace - multi-turn: every user's turns in order, far apart", () => {
    const w = { ...SP, kind: "multi-turn" as const, numGroups: 2, numPromptsPerGroup: 2, turns: 3 };
    const t = buildTrace(
      { workload: w, warmup: null, ladder: [{ rate: 16, duration: 1 }], arrivals: "constant", seed: 4 },
      WORDS,
    );
    const reqs = t.stages[0]!.requests;
    const bySession = new Map<number, number[]>();
    for (const r of reqs)
      bySession.set(r.session!.id, [...(bySession.get(r.session!.id) ?? []), r.session!.turn]);
    // 4 users x 3 turns = 12 requests in round 0; the next 4 start round 1 (new conversations).
    expect(bySession.size).toBe(8);
    for (const [id, turns] of bySession) expect(turns).toEqual(id < 4 ? [0, 1, 2] : [0]);
    const firstTurns = reqs.slice(0, 4).map((r) => r.session!.turn);
    expect(firstTurns).toEqual([0, 0, 0, 0]);
    for (const r of reqs) expect(r.group).toBe(Math.floor((r.session!.id % 4) / 2));
  });

  test("bench trace - oracle placement: round-robin for equal weights, balanced for skewed ones", () => {
    expect(oraclePlacement([0.25, 0.25, 0.25, 0.25, 0, 0], 2)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(oraclePlacement(new Array(6).fill(1 / 6), 3)).toEqual([0, 1, 2, 0, 1, 2]);
    const p = oraclePlacement([0.5, 0.2, 0.2, 0.1], 2);
    expect(p[0]).not.toBe(p[1]);
    const load = [0, 0];
    [0.5, 0.2, 0.2, 0.1].forEach((w, g) => {
      load[p[g]!]! += w;
    });
    expect(Math.max(...load)).toBeCloseTo(0.5, 12);
    expect(() => oraclePlacement([1], 0)).toThrow(RangeError);
  });
});
