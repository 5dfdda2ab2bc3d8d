import { describe, expect, test } from "vitest";
import { parseBenchArgs } from "../../../lib/args.ts";
import { sizing } from "../../../lib/options.ts";
import { renderJson } from "../../../lib/report/json.ts";
import { mergeRuns } from "../../../lib/report/merge.ts";
import { type BenchMeta, type PolicyRun, summarizeRuns } from "../../../lib/report/model.ts";
import { aggregateStage, type RequestRecord } from "../../../lib/results.ts";

function record(i: number, ttftMs: number): RequestRecord {
  return {
    index: i,
    stage: 1,
    group: 0,
    scheduledAt: 0,
    sentAt: 0,
    dependencyWaitMs: 0,
    firstTokenAt: ttftMs,
    endAt: ttftMs + 100,
    status: 200,
    error: null,
    itls: [0.02],
    outputChunks: 2,
    promptTokens: 10,
    completionTokens: 2,
    cachedTokens: null,
    endpoint: "a",
  };
}

function run(policy: "round-robin" | "inferd", ttfts: number[]): PolicyRun {
  const stages = ttfts.map((t, i) =>
    aggregateStage({
      name: `s${i}`,
      rate: i + 1,
      warmup: false,
      records: [record(0, t)],
      counters: null,
      endpoints: ["a"],
    }),
  );
  return {
    policy,
    stages,
    env: stages.map(() => ({ cpu: null, eventLoopP99Ms: 0, eventLoopMaxMs: 0, aborted: 0 })),
    error: null,
    skippedRates: [],
    notes: [],
  };
}

function doc(runs: PolicyRun[], seed = 1): unknown {
  const { options } = parseBenchArgs(["--rates", "1,2,3", "--seed", String(seed)], () => "");
  const meta: BenchMeta = {
    startedAt: "a",
    finishedAt: "b",
    host: { cpus: 2, node: "v24", loadAvgAtStart: [0, 0, 0] },
    options,
    sizing: sizing(options.workload, options.sims, options.kvTokensPerServer),
    traceRequests: [],
    oracleMode: "",
    stackMode: "",
  };
  return JSON.parse(renderJson(meta, summarizeRuns(runs, options)));
}

describe("bench merge", () => {
  test("bench merge - later files replace a policy; NaN survives the JSON round trip", () => {
    const first = doc([run("round-robin", [100, 3000]), run("inferd", [100, 5000])]);
    const rerun = doc([run("inferd", [100, 200, 300])]);
    const { runs, meta } = mergeRuns([first, rerun]);
    expect(runs.map((r) => r.policy)).toEqual(["round-robin", "inferd"]);
    const s = summarizeRuns(runs, meta.options);
    expect(s[0]!.capacity.rps).toBe(1);
    expect(s[1]!.capacity).toMatchObject({ rps: 3, censored: true });
    expect(s[1]!.ratioToRoundRobin).toBe(3);
    expect(s[1]!.measured[0]!.cacheHitRate).toBeNaN();
  });

  test("bench merge - refuses files of different benchmarks", () => {
    expect(() => mergeRuns([doc([run("inferd", [1])]), doc([run("inferd", [1])], 2)])).toThrow(
      /different benchmarks/,
    );
    expect(() => mergeRuns([{}])).toThrow(/not a bench/);
    expect(() => mergeRuns([])).toThrow(/nothing/);
  });
});
