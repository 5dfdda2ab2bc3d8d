import type { Slo } from "../options.ts";
import { PICK_TIMINGS, type PickTiming, type StageResult } from "../results.ts";
import { judgeStage } from "../slo.ts";
import type { BenchMeta, PolicySummary } from "./model.ts";

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function f(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : "-";
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : "-";
}

function ms(v: number): string {
  return Number.isFinite(v) ? `${Math.round(v * 1000)}` : "-";
}

/** Renders rows as aligned columns (first column left, others right). */
export function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows.map((r) => r.map((c, i) => pad(c, widths[i]!, i > 0)).join("  ")).join("\n");
}

/** The headline: SLO capacity per policy and the ratios. */
export function headlineTable(summaries: readonly PolicySummary[], slo: Slo): string {
  const rows: string[][] = [
    [
      "policy",
      "SLO cap rps",
      "interp",
      "x round-robin",
      "x approx-prefix",
      "x oracle",
      "cache hit",
      "route CPU ms/req",
      "note",
    ],
  ];
  for (const p of summaries) {
    const c = p.capacity;
    rows.push([
      p.policy,
      `${c.censored ? ">=" : ""}${f(c.rps, 2)}`,
      f(c.interpolatedRps, 2),
      f(p.ratioToRoundRobin),
      f(p.ratioToApproxPrefix),
      f(p.ratioToOracle),
      pct(p.cacheHitRate),
      f(p.routingCpuMsPerRequest, 1),
      // The peers' full command lines ("ran: ...") are in the per-policy notes, not the headline.
      p.run.error ? `FAILED: ${p.run.error}` : p.run.notes.filter((n) => !n.startsWith("ran: ")).join("; "),
    ]);
  }
  const cpuLine =
    "route CPU = CPU of every process that is neither a model server nor the load generator (inferd: gateway, scorer, kv-index, nats, redis; a peer: its router), per request sent";
  const sloLine = `SLO: TTFT p90 <= ${slo.ttftP90} s, ITL p90 <= ${slo.itlP90 * 1000} ms, success >= ${pct(slo.minSuccess)}`;
  return `${sloLine}\n${columns(rows)}\n${cpuLine}`;
}

/** Per-rate details of one policy. */
export function stageTable(stages: readonly StageResult[], slo: Slo): string {
  const rows: string[][] = [
    [
      "rate",
      "sent",
      "ok",
      "TTFT p50/p90/p99 s",
      "ITL p50/p90/p99 ms",
      "E2E p50/p90/p99 s",
      "in tok/s",
      "out tok/s",
      "hit",
      "imb",
      "lag p99 ms",
      "gw ms",
      "SLO",
    ],
  ];
  for (const s of stages) {
    const v = judgeStage(s, slo);
    rows.push([
      `${s.warmup ? "warm " : ""}${f(s.rate, 2)}`,
      String(s.sent),
      pct(s.successRate),
      `${f(s.ttft.p50)}/${f(s.ttft.p90)}/${f(s.ttft.p99)}`,
      `${ms(s.itl.p50)}/${ms(s.itl.p90)}/${ms(s.itl.p99)}`,
      `${f(s.e2e.p50, 1)}/${f(s.e2e.p90, 1)}/${f(s.e2e.p99, 1)}`,
      f(s.inputTokensPerSecond, 0),
      f(s.outputTokensPerSecond, 0),
      pct(s.cacheHitRate),
      f(s.imbalanceMaxOverMean),
      f(s.lagMs.p99, 1),
      f(s.routerAddedMs, 1),
      s.warmup ? "(excl.)" : v.pass ? "pass" : `FAIL ${v.reasons.join(", ")}`,
    ]);
  }
  return columns(rows);
}

const TIMING_HEADS: Readonly<Record<PickTiming, string>> = {
  added: "gw added p50/p90 ms",
  gatewayPick: "gw pick p50/p90 ms",
  scorerPick: "scorer pick p50/p90 ms",
  tokenize: "tokenise p50/p90 ms",
};

/**
 * Where the routing tier's time goes, per rate: p50/p90 of the gateway's added latency, the pick
 * as the gateway sees it, the pick inside the scorer and its tokenisation (histogram quantiles of
 * the stage's /metrics deltas). Empty when no stage was scraped (peers, direct policies).
 */
export function pickTimingTable(stages: readonly StageResult[]): string {
  const timed = stages.filter((s) => s.pickTimings !== null);
  if (timed.length === 0) return "";
  const rows: string[][] = [["rate", ...PICK_TIMINGS.map((t) => TIMING_HEADS[t])]];
  for (const s of timed) {
    const t = s.pickTimings!;
    rows.push([
      `${s.warmup ? "warm " : ""}${f(s.rate, 2)}`,
      ...PICK_TIMINGS.map((k) => `${f(t[k].p50)}/${f(t[k].p90)}`),
    ]);
  }
  return columns(rows);
}

export function renderTerminalReport(meta: BenchMeta, summaries: readonly PolicySummary[]): string {
  const o = meta.options;
  const w = o.workload;
  const z = meta.sizing;
  const out: string[] = [];
  out.push(
    `inferd bench routing — ${w.kind}: ${w.numGroups} groups x ${w.numPromptsPerGroup} prompts, system ${w.systemPromptLen} + question ${w.questionLen} tokens, output ${w.outputLen}` +
      (w.kind === "multi-turn" ? `, ${w.turns} turns` : "") +
      (w.groupSkew > 0 ? `, Zipf skew ${w.groupSkew}` : "") +
      `; ${o.sims} x ${o.profile}; seed ${o.seed}; API ${o.api}` +
      (o.preset ? `; preset ${o.preset}` : "") +
      (o.client === "inference-perf" ? "; client inference-perf" : ""),
  );
  if (w.kind !== "control")
    out.push(
      `working set ${(z.workingSetTokens / 1000).toFixed(0)}k tokens = ${pct(z.clusterFill)} of cluster KV, ${f(z.serverMultiple, 1)}x one server`,
    );
  for (const p of summaries) {
    out.push(
      "",
      `[${p.policy}]${p.run.error ? ` FAILED: ${p.run.error}` : ""}`,
      stageTable(p.run.stages, o.slo),
    );
    const timings = pickTimingTable(p.run.stages);
    if (timings !== "")
      out.push("  pick path (histogram quantiles of the stage's /metrics deltas):", timings);
    if (p.run.skippedRates.length > 0)
      out.push(`  skipped past saturation: ${p.run.skippedRates.join(", ")} rps`);
    for (const n of p.run.notes) out.push(`  note: ${n}`);
  }
  out.push("", headlineTable(summaries, o.slo));
  return `${out.join("\n")}\n`;
}
