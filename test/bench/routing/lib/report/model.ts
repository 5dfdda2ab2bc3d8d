import type { BenchOptions, Policy, Sizing } from "../options.ts";
import type { StageResult } from "../results.ts";
import { type Capacity, judgeStage, ratio, sloCapacity } from "../slo.ts";

/** CPU use over a policy's measured stages (share of one core; 2.0 = both cores of a 2-core box). */
export interface CpuUse {
  /** Whole machine busy share of all cores, 0..1. */
  readonly machineBusy: number;
  readonly cores: number;
  /** Per component (load generator, model-sim, gateway, ...): cores used. */
  readonly components: Record<string, number>;
  /** Per component: CPU seconds over the stage (absent in results of older versions). */
  readonly componentSeconds?: Record<string, number>;
}

/**
 * Components that are off the request path: the deployer runs the fleet (its CPU figure also holds
 * the model servers it has reaped: /proc's cutime, so a killed or stopped server's whole life lands
 * there) and the autoscaler is the control plane.
 */
const NOT_ROUTING = new Set(["load generator", "model-sim", "deployer", "autoscaler"]);

/**
 * The routing tier: every measured process that is neither a model server, the fleet's deployer,
 * the autoscaler nor the load generator (inferd: gateway, scorer, kv-index, nats, redis, replicas
 * included; a peer: its router process).
 */
export function isRoutingTier(component: string): boolean {
  return !NOT_ROUTING.has(component) && !/^sim[-\d]/.test(component);
}

/** Routing-tier CPU ms per request sent, over the given stages; NaN when not measured. */
export function routingCpuMsPerRequest(stages: readonly StageResult[], env: readonly StageEnv[]): number {
  let secs = 0;
  let sent = 0;
  let measured = false;
  stages.forEach((s, i) => {
    const c = env[i]?.cpu?.componentSeconds;
    if (s.warmup || c === undefined) return;
    measured = true;
    sent += s.sent;
    for (const [name, v] of Object.entries(c)) if (isRoutingTier(name) && Number.isFinite(v)) secs += v;
  });
  return measured && sent > 0 ? (secs * 1000) / sent : Number.NaN;
}

export interface StageEnv {
  readonly cpu: CpuUse | null;
  /** Load generator event-loop delay during the stage, ms. */
  readonly eventLoopP99Ms: number;
  readonly eventLoopMaxMs: number;
  /** Requests aborted at the drain timeout. */
  readonly aborted: number;
  /** The machine's 1-minute load average at the end of the stage (shared machines: quote it). */
  readonly loadAvg1?: number;
}

export interface PolicyRun {
  readonly policy: Policy;
  /** Every stage run, warm-up included (flagged). */
  readonly stages: readonly StageResult[];
  /** Per stage (same order): what the machine and the load generator did meanwhile. */
  readonly env: readonly StageEnv[];
  /** Set when the policy could not be run (stack failed); stages then hold what ran. */
  readonly error: string | null;
  /** The error was the stack dying (not the policy failing). */
  readonly stackDied?: boolean;
  /** Stages skipped after the ladder passed saturation. */
  readonly skippedRates: readonly number[];
  readonly notes: readonly string[];
}

export interface BenchMeta {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly host: { readonly cpus: number; readonly node: string; readonly loadAvgAtStart: readonly number[] };
  readonly options: BenchOptions;
  readonly sizing: Sizing;
  /** Requests per stage of the shared trace. */
  readonly traceRequests: readonly { name: string; rate: number; requests: number }[];
  readonly oracleMode: string;
  readonly stackMode: string;
}

export interface PolicySummary {
  readonly policy: Policy;
  readonly capacity: Capacity;
  readonly ratioToRoundRobin: number;
  readonly ratioToOracle: number;
  readonly ratioToApproxPrefix: number;
  /** Fleet prefix-cache hit rate over all measured stages (server counter deltas). */
  readonly cacheHitRate: number;
  /** Routing-tier CPU (isRoutingTier) per request over the measured stages, ms. */
  readonly routingCpuMsPerRequest: number;
  readonly measured: readonly StageResult[];
  readonly run: PolicyRun;
}

/** Capacities, ratios and hit rates per policy, from the runs. */
export function summarizeRuns(runs: readonly PolicyRun[], options: BenchOptions): PolicySummary[] {
  const caps = new Map<Policy, Capacity>();
  for (const r of runs) caps.set(r.policy, sloCapacity(r.stages, options.slo));
  const cap = (p: Policy) => caps.get(p)?.rps ?? Number.NaN;
  return runs.map((run) => {
    const measured = run.stages.filter((s) => !s.warmup);
    let hits = 0;
    let queries = 0;
    for (const s of measured) {
      if (s.counters === null) continue;
      hits += s.counters.prefixHits;
      queries += s.counters.prefixQueries;
    }
    const capacity = caps.get(run.policy)!;
    return {
      policy: run.policy,
      capacity,
      ratioToRoundRobin: ratio(capacity.rps, cap("round-robin")),
      ratioToOracle: ratio(capacity.rps, cap("oracle")),
      ratioToApproxPrefix: ratio(capacity.rps, cap("approx-prefix")),
      cacheHitRate: queries > 0 ? hits / queries : Number.NaN,
      routingCpuMsPerRequest: routingCpuMsPerRequest(run.stages, run.env),
      measured,
      run,
    };
  });
}

export { judgeStage };
