import type { StageResult } from "../results.ts";
import { type BenchMeta, type PolicySummary, routingCpuMsPerRequest } from "./model.ts";
import { escapeXml, lineChart, type Series } from "./svg.ts";
import { headlineTable, stageTable } from "./table.ts";

function series(summaries: readonly PolicySummary[], f: (s: StageResult) => number): Series[] {
  return summaries.map((p) => ({ name: p.policy, points: p.measured.map((s) => [s.rate, f(s)] as const) }));
}

/** The four latency/throughput-vs-rate charts as SVG strings. */
export function charts(meta: BenchMeta, summaries: readonly PolicySummary[]): Record<string, string> {
  const slo = meta.options.slo;
  const x = "offered load (requests/s)";
  return {
    ttft: lineChart({
      title: "TTFT p90 vs rate",
      xLabel: x,
      yLabel: "TTFT p90 (s, log)",
      logY: true,
      limit: { y: slo.ttftP90, label: `SLO ${slo.ttftP90} s` },
      series: series(summaries, (s) => s.ttft.p90),
    }),
    itl: lineChart({
      title: "ITL p90 vs rate",
      xLabel: x,
      yLabel: "ITL p90 (ms)",
      limit: { y: slo.itlP90 * 1000, label: `SLO ${slo.itlP90 * 1000} ms` },
      series: series(summaries, (s) => s.itl.p90 * 1000),
    }),
    e2e: lineChart({
      title: "E2E latency p90 vs rate",
      xLabel: x,
      yLabel: "E2E p90 (s, log)",
      logY: true,
      series: series(summaries, (s) => s.e2e.p90),
    }),
    throughput: lineChart({
      title: "Output tokens/s vs rate",
      xLabel: x,
      yLabel: "output tokens/s",
      series: series(summaries, (s) => s.outputTokensPerSecond),
    }),
    cpu: lineChart({
      title: "Routing-tier CPU per request",
      xLabel: x,
      yLabel: "CPU ms per request",
      series: summaries.map((p) => ({
        name: p.policy,
        points: p.run.stages.flatMap((s, i) =>
          s.warmup ? [] : [[s.rate, routingCpuMsPerRequest([s], [p.run.env[i]!])] as const],
        ),
      })),
    }),
    hit: lineChart({
      title: "Prefix-cache hit rate (server counters)",
      xLabel: x,
      yLabel: "hit rate (%)",
      series: series(summaries, (s) => s.cacheHitRate * 100),
    }),
  };
}

/** Self-contained HTML report: headline table, charts, per-policy stage tables, run settings. */
export function renderHtml(
  meta: BenchMeta,
  summaries: readonly PolicySummary[],
  terminalText: string,
): string {
  const c = charts(meta, summaries);
  const o = meta.options;
  const w = o.workload;
  const per = summaries
    .map((p) => `<h3>${escapeXml(p.policy)}</h3><pre>${escapeXml(stageTable(p.run.stages, o.slo))}</pre>`)
    .join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>inferd bench routing</title>
<style>body{font-family:sans-serif;margin:24px;max-width:1300px}pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:12px}</style></head><body>
<h1>inferd bench routing</h1>
<p>${escapeXml(`${w.kind}: ${w.numGroups} groups x ${w.numPromptsPerGroup} prompts, system ${w.systemPromptLen} + question ${w.questionLen} tokens, output ${w.outputLen}${w.kind === "multi-turn" ? `, ${w.turns} turns` : ""}${w.groupSkew > 0 ? `, Zipf skew ${w.groupSkew}` : ""}; API ${o.api}${o.preset ? `; preset ${o.preset}` : ""}${o.client === "inference-perf" ? "; client inference-perf" : ""}; ${o.sims} servers x ${o.profile}; seed ${o.seed}; started ${meta.startedAt}, finished ${meta.finishedAt}; ${meta.host.cpus} CPUs, load average at start ${meta.host.loadAvgAtStart.map((x) => x.toFixed(2)).join(" ")}`)}</p>
<p>${escapeXml(`Oracle: ${meta.oracleMode}. Stacks: ${meta.stackMode}.`)}</p>
<h2>Headline</h2>
<pre>${escapeXml(headlineTable(summaries, o.slo))}</pre>
<h2>Latency and throughput vs rate</h2>
<div class="charts">${c.ttft}${c.itl}${c.e2e}${c.throughput}${c.hit}${c.cpu}</div>
<h2>Per policy</h2>
${per}
<h2>Terminal output</h2>
<pre>${escapeXml(terminalText)}</pre>
<h2>Options</h2>
<pre>${escapeXml(JSON.stringify(o, null, 2))}</pre>
</body></html>
`;
}

/**
 * HTML report of a --seeds run: the spread table, then each seed's headline, charts and stage tables.
 */
export function renderSeedsHtml(
  spreadText: string,
  runs: readonly { seed: number; meta: BenchMeta; summaries: readonly PolicySummary[]; text: string }[],
): string {
  const sections = runs
    .map((r) => {
      const c = charts(r.meta, r.summaries);
      return `<h2>Seed ${r.seed}</h2>
<pre>${escapeXml(headlineTable(r.summaries, r.meta.options.slo))}</pre>
<div class="charts">${c.ttft}${c.itl}${c.hit}${c.cpu}</div>
<details><summary>terminal output of seed ${r.seed}</summary><pre>${escapeXml(r.text)}</pre></details>`;
    })
    .join("\n");
  const o = runs[0]?.meta.options;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>inferd bench routing (seeds)</title>
<style>body{font-family:sans-serif;margin:24px;max-width:1300px}pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:12px}</style></head><body>
<h1>inferd bench routing: ${runs.length} seeds</h1>
<h2>Spread over the seeds</h2>
<pre>${escapeXml(spreadText)}</pre>
${sections}
<h2>Options</h2>
<pre>${escapeXml(JSON.stringify(o ?? {}, null, 2))}</pre>
</body></html>
`;
}
