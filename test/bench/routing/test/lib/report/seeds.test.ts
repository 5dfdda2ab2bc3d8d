import { describe, expect, test } from "vitest";
import { parseBenchArgs } from "../../../lib/args.ts";
import { type Policy, sizing } from "../../../lib/options.ts";
import { renderSeedsHtml } from "../../../lib/report/html.ts";
import { type BenchMeta, type PolicyRun, summarizeRuns } from "../../../lib/report/model.ts";
import {
  fmtSpread,
  renderSeedsJson,
  type SeedRun,
  seedSpread,
  spread,
  spreadTable,
} from "../../../lib/report/seeds.ts";
import type { StageResult } from "../../../lib/results.ts";
import { summarize } from "../../../lib/stats.ts";

const { options } = parseBenchArgs(["--rates", "4,8,12", "--policies", "approx-prefix,inferd"], () => "");

function stage(rate: number, ttftP90: number, hits: number): StageResult {
  const s = summarize([0.1, 0.2]);
  return {
    name: `r${rate}`,
    rate,
    warmup: false,
    sent: 10,
    succeeded: 10,
    successRate: 1,
    failures: {},
    errorSamples: [],
    ttft: { ...s, p90: ttftP90 },
    itl: { ...s, p90: 0.02 },
    e2e: s,
    windowSeconds: 10,
    achievedRps: rate,
    inputTokensPerSecond: 0,
    outputTokensPerSecond: 0,
    cacheHitRate: hits / 100,
    cachedTokenShare: Number.NaN,
    preemptions: 0,
    counters: { prefixHits: hits, prefixQueries: 100, preemptions: 0, promptTokens: 0, generationTokens: 0 },
    router: null,
    routerAddedMs: Number.NaN,
    pickTimings: null,
    perEndpoint: {},
    imbalanceMaxOverMean: 1,
    imbalanceCov: 0,
    lagMs: s,
    dependencyWaitMs: s,
  };
}

/** A policy passing the SLO (TTFT p90 <= 2 s) up to `passUpTo`, failing the next rate. */
function run(policy: Policy, passUpTo: number, hits: number): PolicyRun {
  const stages = [4, 8, 12]
    .filter((r) => r <= passUpTo + 4)
    .map((r) => stage(r, r <= passUpTo ? 0.5 : 5, hits));
  return {
    policy,
    stages,
    env: stages.map(() => ({ cpu: null, eventLoopP99Ms: 1, eventLoopMaxMs: 2, aborted: 0 })),
    error: null,
    skippedRates: [],
    notes: [],
  };
}

function seedRun(seed: number, runs: PolicyRun[]): SeedRun {
  const o = { ...options, seed };
  const meta: BenchMeta = {
    startedAt: "2026-12-06T22:00:00Z",
    finishedAt: "2026-12-06T22:10:00Z",
    host: { cpus: 2, node: "v24", loadAvgAtStart: [1, 1, 1] },
    options: o,
    sizing: sizing(o.workload, o.sims, o.kvTokensPerServer),
    traceRequests: [],
    oracleMode: "direct",
    stackMode: "fresh",
  };
  return { seed, meta, summaries: summarizeRuns(runs, o) };
}

describe("bench seeds", () => {
  test("bench seeds - spread: mean, min, max and sample stdev of the finite values", () => {
    const s = spread([4, 8, 12]);
    expect(s).toMatchObject({ n: 3, mean: 8, min: 4, max: 12 });
    expect(s.stdev).toBeCloseTo(4, 12);
    expect(spread([5, Number.NaN])).toMatchObject({ n: 1, mean: 5, min: 5, max: 5 });
    expect(spread([5]).stdev).toBeNaN();
    expect(spread([]).n).toBe(0);
    expect(spread([]).mean).toBeNaN();
    expect(fmtSpread(spread([4, 8, 12]), 1)).toBe("8.0 [4.0-12.0]");
    expect(fmtSpread(spread([0.9, 0.9]), 1, 100)).toBe("90.0");
    expect(fmtSpread(spread([]))).toBe("-");
  });

  test("bench seeds - per policy over the seeds: capacity, TTFT p90 per rate, hit rate, ratios", () => {
    const runs = [
      seedRun(1, [run("approx-prefix", 4, 80), run("inferd", 8, 90)]),
      seedRun(2, [run("approx-prefix", 8, 84), run("inferd", 8, 92)]),
      seedRun(3, [run("approx-prefix", 4, 82), run("inferd", 12, 94)]),
    ];
    const [approx, inferd] = seedSpread(runs);
    expect(approx!.policy).toBe("approx-prefix");
    expect(approx!.capacity).toMatchObject({ n: 3, min: 4, max: 8 });
    expect(approx!.capacity.mean).toBeCloseTo(16 / 3, 12);
    expect(inferd!.capacity).toMatchObject({ n: 3, mean: 28 / 3, min: 8, max: 12 });
    // Seed 3: inferd passed every rate (12 is the top of the ladder): censored.
    expect(inferd!.censoredSeeds).toBe(1);
    expect(inferd!.seeds).toEqual([1, 2, 3]);
    // TTFT p90 at 12 req/s: measured in seeds 1 and 2 (fail: 5 s) and seed 3 (pass: 0.5 s).
    expect(inferd!.ttftP90["12"]).toMatchObject({ n: 3, min: 0.5, max: 5 });
    // approx-prefix reached 12 req/s in seed 2 only.
    expect(approx!.ttftP90["12"]).toMatchObject({ n: 1, mean: 5 });
    expect(inferd!.cacheHitRate.mean).toBeCloseTo(0.92, 12);
    // inferd / approx-prefix per seed: 2, 1, 3.
    expect(inferd!.ratioToApproxPrefix).toMatchObject({ n: 3, mean: 2, min: 1, max: 3 });
    const table = spreadTable([approx!, inferd!], [1, 2, 3]);
    expect(table).toContain("TTFT p90 s @12");
    expect(table).toMatch(/inferd\s+>=9\.3 \[8\.0-12\.0\]/);
  });

  test("bench seeds - a policy missing from a seed, or whose stack never served, is left out of that seed", () => {
    const broken: PolicyRun = { ...run("inferd", 0, 0), stages: [], error: "stack died", stackDied: true };
    const [, inferd] = seedSpread([
      seedRun(1, [run("approx-prefix", 4, 80), run("inferd", 8, 90)]),
      seedRun(2, [run("approx-prefix", 4, 80), broken]),
      seedRun(3, [run("approx-prefix", 4, 80)]),
    ]);
    expect(inferd!.seeds).toEqual([1, 2]);
    expect(inferd!.capacity).toMatchObject({ n: 1, mean: 8 });
  });

  test("bench seeds - JSON and HTML carry the spread and every seed, without NaN", () => {
    const runs = [
      seedRun(1, [run("approx-prefix", 4, 80), run("inferd", 8, 90)]),
      seedRun(2, [run("approx-prefix", 8, 84), run("inferd", 8, 92)]),
    ];
    const text = renderSeedsJson(runs, [{ seed: 1 }, { seed: 2 }]);
    expect(text).not.toContain("NaN");
    const doc = JSON.parse(text);
    expect(doc.seeds).toEqual([1, 2]);
    expect(doc.spread.inferd.capacity).toMatchObject({ n: 2, mean: 8, min: 8, max: 8, stdev: 0 });
    expect(doc.spread["approx-prefix"].capacity.mean).toBe(6);
    expect(doc.per_seed).toHaveLength(2);
    const html = renderSeedsHtml(spreadTable(seedSpread(runs), [1, 2]), [
      { ...runs[0]!, text: "seed one" },
      { ...runs[1]!, text: "seed two" },
    ]);
    expect(html).toContain("Spread over seeds 1, 2");
    expect(html).toContain("Seed 2");
    expect(html).toContain("<svg");
  });
});
