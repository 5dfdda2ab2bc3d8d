import type { Policy } from "../options.ts";
import { isPolicy } from "../options.ts";
import type { StageResult } from "../results.ts";
import type { BenchMeta, PolicyRun, StageEnv } from "./model.ts";

/** JSON turned NaN into null; numbers the summaries read must be NaN again. */
function revive(v: unknown): unknown {
  if (v === null) return Number.NaN;
  if (Array.isArray(v)) return v.map(revive);
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      // Fields that are legitimately null stay null.
      out[k] =
        x === null && (k === "counters" || k === "router" || k === "cpu" || k === "error") ? null : revive(x);
    }
    return out;
  }
  return v;
}

interface JsonPolicy {
  stages: StageResult[];
  stage_env: StageEnv[];
  error: string | null;
  skipped_rates: number[];
  notes: string[];
}

/**
 * Runs from several --json files of the same benchmark (same trace options and SLO), e.g. a policy
 * rerun after its stack was killed: later files replace earlier ones policy by policy.
 */
export function mergeRuns(docs: readonly unknown[]): { meta: BenchMeta; runs: PolicyRun[] } {
  if (docs.length === 0) throw new Error("nothing to merge");
  const first = docs[0] as { meta: BenchMeta };
  const key = (m: BenchMeta) =>
    JSON.stringify({
      w: m.options.workload,
      l: m.options.ladder,
      s: m.options.slo,
      seed: m.options.seed,
      sims: m.options.sims,
      p: m.options.profile,
    });
  const byPolicy = new Map<Policy, PolicyRun>();
  for (const d of docs) {
    const doc = d as { meta: BenchMeta; policies: Record<string, JsonPolicy> };
    if (!doc.meta || !doc.policies) throw new Error("not a bench routing --json document");
    if (key(doc.meta) !== key(first.meta))
      throw new Error(
        "the files are from different benchmarks (workload, ladder, SLO, seed, servers or profile differ)",
      );
    for (const [name, p] of Object.entries(doc.policies)) {
      if (!isPolicy(name)) throw new Error(`unknown policy "${name}" in a merged file`);
      byPolicy.set(name, {
        policy: name,
        stages: revive(p.stages) as StageResult[],
        env: p.stage_env,
        error: p.error,
        skippedRates: p.skipped_rates,
        notes: p.notes,
      });
    }
  }
  const last = docs[docs.length - 1] as { meta: BenchMeta };
  const order = first.meta.options.policies;
  const runs = [...byPolicy.values()].sort((a, b) => idx(order, a.policy) - idx(order, b.policy));
  return { meta: { ...first.meta, finishedAt: last.meta.finishedAt }, runs };
}

function idx(order: readonly Policy[], p: Policy): number {
  const i = order.indexOf(p);
  return i < 0 ? order.length : i;
}
