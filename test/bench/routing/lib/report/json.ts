import type { StageResult } from "../results.ts";
import { judgeStage } from "../slo.ts";
import type { BenchMeta, PolicySummary } from "./model.ts";

/** A rate as a JSON key: "2", "2.5". */
export function rateKey(rate: number): string {
  return String(Math.round(rate * 1000) / 1000);
}

function perRate(
  stages: readonly StageResult[],
  f: (s: StageResult) => number,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const s of stages) {
    const v = f(s);
    out[rateKey(s.rate)] = Number.isFinite(v) ? v : null;
  }
  return out;
}

function num(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** JSON with NaN/Infinity as null (JSON has neither). */
function finite(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? null : value;
}

/**
 * The --json document: `policies.<name>` with the SLO capacity, ratios, the fleet cache hit rate,
 * and every metric per rate (keys are rates in requests/s); full stage records under `stages`.
 */
export function renderJson(meta: BenchMeta, summaries: readonly PolicySummary[]): string {
  const policies: Record<string, unknown> = {};
  for (const p of summaries) {
    const st = p.measured;
    policies[p.policy] = {
      slo_capacity_rps: p.capacity.rps,
      slo_capacity_interpolated_rps: num(p.capacity.interpolatedRps),
      slo_capacity_censored: p.capacity.censored,
      ratio_to_round_robin: num(p.ratioToRoundRobin),
      ratio_to_oracle: num(p.ratioToOracle),
      ratio_to_approx_prefix: num(p.ratioToApproxPrefix),
      cache_hit_rate: num(p.cacheHitRate),
      routing_cpu_ms_per_request: num(p.routingCpuMsPerRequest),
      error: p.run.error,
      skipped_rates: p.run.skippedRates,
      notes: p.run.notes,
      slo_pass: Object.fromEntries(st.map((s) => [rateKey(s.rate), judgeStage(s, meta.options.slo).pass])),
      ttft_p50_s: perRate(st, (s) => s.ttft.p50),
      ttft_p90_s: perRate(st, (s) => s.ttft.p90),
      ttft_p99_s: perRate(st, (s) => s.ttft.p99),
      itl_p50_s: perRate(st, (s) => s.itl.p50),
      itl_p90_s: perRate(st, (s) => s.itl.p90),
      itl_p99_s: perRate(st, (s) => s.itl.p99),
      e2e_p50_s: perRate(st, (s) => s.e2e.p50),
      e2e_p90_s: perRate(st, (s) => s.e2e.p90),
      e2e_p99_s: perRate(st, (s) => s.e2e.p99),
      success_rate: perRate(st, (s) => s.successRate),
      achieved_rps: perRate(st, (s) => s.achievedRps),
      input_tokens_per_s: perRate(st, (s) => s.inputTokensPerSecond),
      output_tokens_per_s: perRate(st, (s) => s.outputTokensPerSecond),
      cache_hit_rate_per_rate: perRate(st, (s) => s.cacheHitRate),
      imbalance_max_over_mean: perRate(st, (s) => s.imbalanceMaxOverMean),
      loadgen_lag_p99_ms: perRate(st, (s) => s.lagMs.p99),
      gateway_added_ms_mean: perRate(st, (s) => s.routerAddedMs),
      // Pick path, per rate: { added, gatewayPick, scorerPick, tokenize } -> { p50, p90, n } in ms.
      pick_timings_ms: Object.fromEntries(st.map((s) => [rateKey(s.rate), s.pickTimings])),
      stage_env: p.run.env,
      stages: p.run.stages,
    };
  }
  return `${JSON.stringify({ meta, policies }, finite, 2)}\n`;
}
