import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { cacheConfigLabels } from "./cache-config-info.ts";
import type { Engine, EngineObserver, StepInfo } from "./engine/engine.ts";
import type { EngineRequest, FinishInfo } from "./engine/request.ts";

// Bucket boundaries as vLLM v1 (vllm/v1/metrics/loggers.py).
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
  80.0, 160.0, 640.0, 2560.0,
];
const ITL_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];
const ITERATION_TOKENS_BUCKETS = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];
/** vLLM FinishReason strings: every reason is exported at 0 from the start. */
const FINISH_REASONS = ["stop", "length", "abort", "error", "repetition"] as const;

/** vLLM build_1_2_5_buckets(max): 1, 2, 5, 10, 20, 50, ... up to max (request token counts). */
export function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let e = 1; ; e *= 10) {
    for (const m of [1, 2, 5]) {
      if (m * e > max) return out;
      out.push(m * e);
    }
  }
}

const REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
  960.0, 1920.0, 7680.0,
];

export interface SimMetricsOptions {
  readonly modelName: string;
  readonly engineIndex: number;
  readonly blockSize: number;
  readonly numGpuBlocks: number;
  readonly maxLoras: number;
  readonly loraEnabled: boolean;
  readonly maxModelLen: number;
  readonly numGpuBlocksOverride: number | null;
  readonly prefixCachingHashAlgo: string;
}

/**
 * vLLM v1 metrics (names, types, label names, buckets) fed by engine hooks. One registry per simulated
 * server, so a fleet process serves independent /metrics per port.
 */
export class SimMetrics implements EngineObserver {
  readonly registry = new Registry();
  private readonly labels: { model_name: string; engine: string };
  private readonly promptTokens: Counter;
  private readonly generationTokens: Counter;
  private readonly prefixQueries: Counter;
  private readonly prefixHits: Counter;
  private readonly preemptions: Counter;
  private readonly success: Counter;
  private readonly ttft: Histogram;
  private readonly itl: Histogram;
  private readonly e2e: Histogram;
  private readonly queue: Histogram;
  private readonly prefill: Histogram;
  private readonly decode: Histogram;
  private readonly inference: Histogram;
  private readonly tpot: Histogram;
  private readonly reqPromptTokens: Histogram;
  private readonly reqGenerationTokens: Histogram;
  private readonly maxTokensParam: Histogram;
  private readonly iterationTokens: Histogram;
  private readonly promptTokensCached: Counter;

  constructor(engine: Engine, o: SimMetricsOptions) {
    const r = this.registry;
    this.labels = { model_name: o.modelName, engine: String(o.engineIndex) };
    const labelNames = ["model_name", "engine"] as const;
    const labels = this.labels;
    new Gauge({
      name: "vllm:num_requests_running",
      help: "Number of requests in model execution batches.",
      labelNames,
      registers: [r],
      collect() {
        this.set(labels, engine.numRunning);
      },
    });
    new Gauge({
      name: "vllm:num_requests_waiting",
      help: "Number of requests waiting to be processed.",
      labelNames,
      registers: [r],
      collect() {
        this.set(labels, engine.numWaiting);
      },
    });
    new Gauge({
      name: "vllm:kv_cache_usage_perc",
      help: "KV-cache usage. 1 means 100 percent usage.",
      labelNames,
      registers: [r],
      collect() {
        this.set(labels, engine.pool.usage());
      },
    });
    const cacheLabels = {
      ...cacheConfigLabels({
        blockSize: o.blockSize,
        numGpuBlocks: o.numGpuBlocks,
        numGpuBlocksOverride: o.numGpuBlocksOverride,
        prefixCachingHashAlgo: o.prefixCachingHashAlgo,
        userSpecifiedBlockSize: true,
      }),
      engine: labels.engine,
    };
    const cacheInfo = new Gauge({
      name: "vllm:cache_config_info",
      help: "Information of the LLMEngine CacheConfig",
      labelNames: Object.keys(cacheLabels),
      registers: [r],
    });
    cacheInfo.set(cacheLabels, 1);
    new Gauge({
      name: "vllm:num_requests_waiting_by_reason",
      help:
        "Number of waiting requests by reason. Reason labels: 'capacity' = waiting for scheduling capacity; " +
        "'deferred' = deferred by transient constraints (LoRA budget, KV transfer, blocked status). " +
        "Sum of all reasons equals vllm:num_requests_waiting.",
      labelNames: ["model_name", "engine", "reason"],
      registers: [r],
      collect() {
        // The simulator defers nothing: every waiting request waits for capacity.
        this.set({ ...labels, reason: "capacity" }, engine.numWaiting);
        this.set({ ...labels, reason: "deferred" }, 0);
      },
    });
    if (o.loraEnabled) {
      new Gauge({
        name: "vllm:lora_requests_info",
        help: "Running stats on lora requests.",
        labelNames: ["max_lora", "running_lora_adapters", "waiting_lora_adapters"],
        registers: [r],
        collect() {
          const names = engine.loraNames();
          this.reset();
          this.set(
            {
              max_lora: String(o.maxLoras),
              running_lora_adapters: names.running.join(","),
              waiting_lora_adapters: names.waiting.join(","),
            },
            Date.now() / 1000,
          );
        },
      });
    }
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers: [r] });
    this.prefixQueries = counter(
      "vllm:prefix_cache_queries_total",
      "Prefix cache queries, in terms of number of queried tokens.",
    );
    this.prefixHits = counter(
      "vllm:prefix_cache_hits_total",
      "Prefix cache hits, in terms of number of cached tokens.",
    );
    this.preemptions = counter(
      "vllm:num_preemptions_total",
      "Cumulative number of preemption from the engine.",
    );
    this.promptTokens = counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.");
    this.generationTokens = counter("vllm:generation_tokens_total", "Number of generation tokens processed.");
    this.success = new Counter({
      name: "vllm:request_success_total",
      help: "Count of successfully processed requests.",
      labelNames: ["model_name", "engine", "finished_reason"],
      registers: [r],
    });
    const hist = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, labelNames, buckets, registers: [r] });
    this.ttft = hist(
      "vllm:time_to_first_token_seconds",
      "Histogram of time to first token in seconds.",
      TTFT_BUCKETS,
    );
    this.itl = hist(
      "vllm:inter_token_latency_seconds",
      "Histogram of inter-token latency in seconds.",
      ITL_BUCKETS,
    );
    this.e2e = hist(
      "vllm:e2e_request_latency_seconds",
      "Histogram of e2e request latency in seconds.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.queue = hist(
      "vllm:request_queue_time_seconds",
      "Histogram of time spent in WAITING phase for request.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.inference = hist(
      "vllm:request_inference_time_seconds",
      "Histogram of time spent in RUNNING phase for request.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.prefill = hist(
      "vllm:request_prefill_time_seconds",
      "Histogram of time spent in PREFILL phase for request.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.decode = hist(
      "vllm:request_decode_time_seconds",
      "Histogram of time spent in DECODE phase for request.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.tpot = hist(
      "vllm:request_time_per_output_token_seconds",
      "Histogram of time_per_output_token_seconds per request.",
      ITL_BUCKETS,
    );
    const tokenBuckets = buckets125(o.maxModelLen);
    this.reqPromptTokens = hist(
      "vllm:request_prompt_tokens",
      "Number of prefill tokens processed.",
      tokenBuckets,
    );
    this.reqGenerationTokens = hist(
      "vllm:request_generation_tokens",
      "Number of generation tokens processed.",
      tokenBuckets,
    );
    this.maxTokensParam = hist(
      "vllm:request_params_max_tokens",
      "Histogram of the max_tokens request parameter.",
      tokenBuckets,
    );
    this.iterationTokens = hist(
      "vllm:iteration_tokens_total",
      "Histogram of number of tokens per engine_step.",
      ITERATION_TOKENS_BUCKETS,
    );
    this.promptTokensCached = counter(
      "vllm:prompt_tokens_cached_total",
      "Number of cached prompt tokens (local + external).",
    );
    // Simulator's own cost (not a vLLM metric): engine steps and wall time spent computing them.
    new Counter({
      name: "inferd_sim_engine_steps_total",
      help: "Engine steps run by the simulator.",
      labelNames,
      registers: [r],
      collect() {
        this.reset();
        this.inc(labels, engine.steps);
      },
    });
    new Counter({
      name: "inferd_sim_engine_busy_seconds_total",
      help: "Wall time the simulator spent scheduling steps and emitting their tokens.",
      labelNames,
      registers: [r],
      collect() {
        this.reset();
        this.inc(labels, engine.busyMs / 1000);
      },
    });
    // Counters appear from the start (value 0), as vLLM's do.
    for (const c of [
      this.prefixQueries,
      this.prefixHits,
      this.preemptions,
      this.promptTokens,
      this.generationTokens,
      this.promptTokensCached,
    ])
      c.inc(this.labels, 0);
    // vLLM creates request_success for every FinishReason up front.
    for (const reason of FINISH_REASONS) this.success.inc({ ...this.labels, finished_reason: reason }, 0);
  }

  onQueued(_req: EngineRequest, queueMs: number): void {
    this.queue.observe(this.labels, queueMs / 1000);
  }

  onPrefixLookup(queries: number, hits: number): void {
    this.prefixQueries.inc(this.labels, queries);
    this.prefixHits.inc(this.labels, hits);
  }

  onPreemption(): void {
    this.preemptions.inc(this.labels);
  }

  onFirstToken(req: EngineRequest, ttftMs: number): void {
    this.ttft.observe(this.labels, ttftMs / 1000);
    this.promptTokens.inc(this.labels, req.numPromptTokens);
    this.generationTokens.inc(this.labels);
  }

  onToken(_req: EngineRequest, itlMs: number): void {
    this.itl.observe(this.labels, itlMs / 1000);
    this.generationTokens.inc(this.labels);
  }

  onStep(info: StepInfo): void {
    // Tokens computed in the step: prefill chunk tokens plus one per decoding sequence.
    this.iterationTokens.observe(this.labels, info.prefillTokens + info.decodeSeqs);
  }

  onFinish(req: EngineRequest, info: FinishInfo): void {
    if (info.reason === "abort") return;
    const l = this.labels;
    this.e2e.observe(l, (info.finishMs - info.arrivalMs) / 1000);
    this.success.inc({ ...l, finished_reason: info.reason });
    this.reqPromptTokens.observe(l, info.promptTokens);
    this.reqGenerationTokens.observe(l, info.outputTokens);
    if (req.maxTokensParam !== null) this.maxTokensParam.observe(l, req.maxTokensParam);
    this.promptTokensCached.inc(l, Math.max(0, info.cachedTokens));
    if (info.firstScheduledMs !== null) {
      this.inference.observe(l, (info.finishMs - info.firstScheduledMs) / 1000);
      if (info.firstTokenMs !== null)
        this.prefill.observe(l, (info.firstTokenMs - info.firstScheduledMs) / 1000);
    }
    if (info.firstTokenMs !== null) {
      this.decode.observe(l, (info.finishMs - info.firstTokenMs) / 1000);
      if (info.outputTokens > 1)
        this.tpot.observe(l, (info.finishMs - info.firstTokenMs) / 1000 / (info.outputTokens - 1));
    }
  }
}
