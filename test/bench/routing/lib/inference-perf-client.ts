/**
 * `--client inference-perf`: the config inference-perf gets for one stage of the ladder (generated
 * from the bench's options), and the bench's StageResult rebuilt from inference-perf's per-stage
 * report. Pure; driver/inference-perf.ts runs the program.
 *
 * One inference-perf run per stage (not one run with every stage) so the bench still scrapes the
 * servers' counters and the routing tier's CPU at stage boundaries and stops past saturation, as
 * with the built-in generator. inference-perf generates its own shared-prefix prompts (its
 * `shared_prefix` generator, same sizes, seeded by --seed): the same workload, not the same trace.
 */
import type { BenchOptions, Stage } from "./options.ts";
import { pickTimingsOf, type RouterCounters, type ServerCounters, type StageResult } from "./results.ts";
import type { Summary } from "./stats.ts";

export interface IpStageInput {
  readonly options: BenchOptions;
  readonly stage: Stage;
  /** Index of the stage in the trace (varies the load seed per stage). */
  readonly index: number;
  /** Router (gateway or peer) or server origin inference-perf sends to. */
  readonly baseUrl: string;
  /** Hugging Face tokenizer dir (Qwen3, as the servers). */
  readonly tokenizerDir: string;
  /** Where its reports go. */
  readonly outDir: string;
  /** Seconds inference-perf waits for stragglers after the stage (the bench's drain timeout). */
  readonly drainSeconds: number;
}

/** The inference-perf 0.7 config (a YAML mapping) for one stage. */
export function inferencePerfConfig(i: IpStageInput): Record<string, unknown> {
  const o = i.options;
  const w = o.workload;
  if (w.kind === "multi-turn") throw new Error("inference-perf client: multi-turn is not supported");
  // Control = nothing shared: one prompt per group, no system prompt, as long as a shared-prefix prompt.
  const sharedPrefix =
    w.kind === "control"
      ? {
          num_groups: 1000,
          num_prompts_per_group: 1,
          system_prompt_len: 0,
          question_len: w.systemPromptLen + w.questionLen,
          output_len: w.outputLen,
        }
      : {
          num_groups: w.numGroups,
          num_prompts_per_group: w.numPromptsPerGroup,
          system_prompt_len: w.systemPromptLen,
          question_len: w.questionLen,
          output_len: w.outputLen,
        };
  return {
    api: { type: o.api, streaming: true },
    data: { type: "shared_prefix", shared_prefix: { ...sharedPrefix, seed: o.seed } },
    load: {
      type: o.arrivals,
      stages: [{ rate: i.stage.rate, duration: Math.max(1, Math.round(i.stage.duration)) }],
      // Open loop like the built-in generator: enough workers and in-flight slots never to cap it.
      num_workers: 2,
      worker_max_concurrency: Math.max(100, o.connections),
      stage_teardown_grace_seconds: i.drainSeconds,
      request_timeout: Math.max(60, i.drainSeconds + i.stage.duration),
      base_seed: o.seed * 1000 + i.index,
    },
    server: { type: "vllm", model_name: o.model, base_url: i.baseUrl, ignore_eos: true },
    tokenizer: { pretrained_model_name_or_path: i.tokenizerDir },
    storage: { local_storage: { path: i.outDir } },
    report: {
      request_lifecycle: { summary: true, per_stage: true, per_request: false, percentiles: [50, 90, 99] },
    },
  };
}

/** inference-perf's percentile summary ({mean, min, max, median, p90, p99}), null when empty. */
type IpSummary = Readonly<Record<string, number>> | null | undefined;

function toSummary(s: IpSummary, count: number): Summary {
  const v = (k: string) => (s && typeof s[k] === "number" ? s[k] : Number.NaN);
  return {
    count: s ? count : 0,
    mean: v("mean"),
    p50: v("median"),
    p90: v("p90"),
    p99: v("p99"),
    max: v("max"),
  };
}

export interface IpStageReport {
  readonly load_summary?: { count?: number; achieved_rate?: number; schedule_delay?: IpSummary };
  readonly successes?: {
    count?: number;
    latency?: {
      time_to_first_token?: IpSummary;
      inter_token_latency?: IpSummary;
      request_latency?: IpSummary;
    };
    throughput?: { input_tokens_per_sec?: number; output_tokens_per_sec?: number };
  };
  readonly failures?: { count?: number; by_label?: unknown };
  readonly benchmark_time_seconds?: number;
}

export interface IpStageMeta {
  readonly name: string;
  readonly rate: number;
  readonly warmup: boolean;
  readonly counters: ServerCounters | null;
  readonly router: RouterCounters | null;
}

/** A StageResult from inference-perf's `stage_0_lifecycle_metrics.json` (no per-request records). */
export function stageFromInferencePerf(r: IpStageReport, m: IpStageMeta): StageResult {
  const ok = r.successes?.count ?? 0;
  const failed = r.failures?.count ?? 0;
  const sent = r.load_summary?.count ?? ok + failed;
  const lat = r.successes?.latency ?? {};
  const delay = toSummary(r.load_summary?.schedule_delay, sent);
  const ms = (s: Summary): Summary => ({
    ...s,
    mean: s.mean * 1000,
    p50: s.p50 * 1000,
    p90: s.p90 * 1000,
    p99: s.p99 * 1000,
    max: s.max * 1000,
  });
  const c = m.counters;
  const empty = toSummary(null, 0);
  return {
    name: m.name,
    rate: m.rate,
    warmup: m.warmup,
    sent,
    succeeded: ok,
    successRate: sent > 0 ? ok / sent : Number.NaN,
    failures: failed > 0 ? { "inference-perf": failed } : {},
    errorSamples: failed > 0 ? [JSON.stringify(r.failures?.by_label ?? null).slice(0, 160)] : [],
    ttft: toSummary(lat.time_to_first_token, ok),
    itl: toSummary(lat.inter_token_latency, ok),
    e2e: toSummary(lat.request_latency, ok),
    windowSeconds: r.benchmark_time_seconds ?? Number.NaN,
    achievedRps: r.load_summary?.achieved_rate ?? Number.NaN,
    inputTokensPerSecond: r.successes?.throughput?.input_tokens_per_sec ?? Number.NaN,
    outputTokensPerSecond: r.successes?.throughput?.output_tokens_per_sec ?? Number.NaN,
    cacheHitRate: c && c.prefixQueries > 0 ? c.prefixHits / c.prefixQueries : Number.NaN,
    cachedTokenShare: Number.NaN,
    preemptions: c?.preemptions ?? 0,
    counters: c,
    router: m.router,
    routerAddedMs:
      m.router && m.router.addedLatencyCount > 0
        ? (m.router.addedLatencySum / m.router.addedLatencyCount) * 1000
        : Number.NaN,
    pickTimings: pickTimingsOf(m.router),
    // inference-perf does not record the serving server.
    perEndpoint: {},
    imbalanceMaxOverMean: Number.NaN,
    imbalanceCov: Number.NaN,
    lagMs: ms(delay),
    dependencyWaitMs: empty,
  };
}
