import { describe, expect, test } from "vitest";
import { parseBenchArgs } from "../../../lib/args.ts";
import type { Policy } from "../../../lib/options.ts";
import { sizing } from "../../../lib/options.ts";
import { renderHtml } from "../../../lib/report/html.ts";
import { renderJson } from "../../../lib/report/json.ts";
import { type BenchMeta, type PolicyRun, summarizeRuns } from "../../../lib/report/model.ts";
import { linearTicks, lineChart } from "../../../lib/report/svg.ts";
import { headlineTable, renderTerminalReport } from "../../../lib/report/table.ts";
import type { StageResult } from "../../../lib/results.ts";
import { summarize } from "../../../lib/stats.ts";

const { options } = parseBenchArgs(
  ["--rates", "1,2,3,4", "--policies", "round-robin,approx-prefix,inferd,oracle"],
  () => "",
);

function stage(rate: number, ttftP90: number, warmup = false): StageResult {
  const s = summarize([0.1, 0.2]);
  return {
    name: `r${rate}`,
    rate,
    warmup,
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
    inputTokensPerSecond: 1000 * rate,
    outputTokensPerSecond: 50 * rate,
    cacheHitRate: 0.5,
    cachedTokenShare: Number.NaN,
    preemptions: 0,
    counters: { prefixHits: 50, prefixQueries: 100, preemptions: 0, promptTokens: 0, generationTokens: 0 },
    router: null,
    routerAddedMs: Number.NaN,
    pickTimings: null,
    perEndpoint: { a: 5, b: 5 },
    imbalanceMaxOverMean: 1,
    imbalanceCov: 0,
    lagMs: s,
    dependencyWaitMs: s,
  };
}

function run(policy: Policy, failsAt: number): PolicyRun {
  const stages = [stage(1, 9, true)];
  for (const r of [1, 2, 3, 4]) {
    if (r > failsAt) break;
    stages.push(stage(r, r === failsAt ? 5 : 0.5));
  }
  return {
    policy,
    stages,
    env: stages.map(() => ({ cpu: null, eventLoopP99Ms: 1, eventLoopMaxMs: 2, aborted: 0 })),
    error: null,
    skippedRates: [],
    notes: [],
  };
}

const runs = [run("round-robin", 2), run("approx-prefix", 3), run("inferd", 4), run("oracle", 5)];
const meta: BenchMeta = {
  startedAt: "2026-11-24T19:00:00Z",
  finishedAt: "2026-11-24T19:10:00Z",
  host: { cpus: 2, node: "v24", loadAvgAtStart: [1, 1, 1] },
  options,
  sizing: sizing(options.workload, options.sims, options.kvTokensPerServer),
  traceRequests: [],
  oracleMode: "direct",
  stackMode: "fresh",
};

describe("bench report", () => {
  test("bench report - capacities and ratios to round-robin, approx-prefix and oracle", () => {
    const s = summarizeRuns(runs, options);
    const by = Object.fromEntries(s.map((x) => [x.policy, x]));
    expect(by["round-robin"]!.capacity.rps).toBe(1);
    expect(by.inferd!.capacity.rps).toBe(3);
    expect(by.oracle!.capacity).toMatchObject({ rps: 4, censored: true });
    expect(by.inferd!.ratioToRoundRobin).toBe(3);
    expect(by.inferd!.ratioToApproxPrefix).toBe(1.5);
    expect(by.inferd!.ratioToOracle).toBe(0.75);
    expect(by.inferd!.cacheHitRate).toBeCloseTo(0.5, 12);
    const table = headlineTable(s, options.slo);
    expect(table).toContain(">=4.00");
    expect(table.split("\n")).toHaveLength(7);
  });

  test("bench report - JSON has the documented keys, per-rate maps and no NaN", () => {
    const s = summarizeRuns(runs, options);
    const text = renderJson(meta, s);
    expect(text).not.toContain("NaN");
    const doc = JSON.parse(text);
    const inferd = doc.policies.inferd;
    expect(inferd.slo_capacity_rps).toBe(3);
    expect(inferd.ttft_p90_s).toEqual({ "1": 0.5, "2": 0.5, "3": 0.5, "4": 5 });
    expect(inferd.cache_hit_rate).toBeCloseTo(0.5, 12);
    expect(inferd.ratio_to_round_robin).toBe(3);
    expect(Object.keys(doc.policies)).toEqual(["round-robin", "approx-prefix", "inferd", "oracle"]);
    expect(doc.policies["round-robin"].slo_pass).toEqual({ "1": true, "2": false });
  });

  test("bench report - terminal text and HTML with one SVG per chart", () => {
    const s = summarizeRuns(runs, options);
    const text = renderTerminalReport(meta, s);
    expect(text).toContain("[inferd]");
    expect(text).toContain("FAIL TTFT p90 5.00s");
    const html = renderHtml(meta, s, text);
    expect(html.match(/<svg /g)).toHaveLength(6);
    expect(html.match(/<\/svg>/g)).toHaveLength(6);
    expect(html).toContain("TTFT p90 vs rate");
  });

  test("bench report - charts: a path per series, the limit line, log axis, escaping", () => {
    const svg = lineChart({
      title: "a < b",
      xLabel: "x",
      yLabel: "y",
      logY: true,
      limit: { y: 2, label: "SLO" },
      series: [
        {
          name: "p",
          points: [
            [1, 0.1],
            [2, 10],
            [3, Number.NaN],
          ],
        },
        { name: "q", points: [[1, 1]] },
      ],
    });
    expect(svg).toContain("a &lt; b");
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('stroke-dasharray="5 4"');
    expect(svg).not.toContain("NaN");
    expect(linearTicks(0, 10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(linearTicks(0, 0.37, 4)).toEqual([0, 0.1, 0.2, 0.3]);
  });
});
