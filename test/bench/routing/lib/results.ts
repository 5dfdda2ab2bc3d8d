import { type HistogramSnapshot, histogramQuantile } from "./histogram.ts";
import { imbalance, type Summary, summarize } from "./stats.ts";

/** What the load generator records for one request (times in ms on the load generator's clock). */
export interface RequestRecord {
  readonly index: number;
  readonly stage: number;
  readonly group: number;
  /** When the schedule wanted it sent. */
  readonly scheduledAt: number;
  /** When it was handed to the HTTP client. */
  sentAt: number;
  /** Multi-turn: time spent waiting for the previous turn's answer before sending (not load-generator lag). */
  dependencyWaitMs: number;
  firstTokenAt: number | null;
  endAt: number | null;
  /** HTTP status; 0 = no response (connection error, timeout). */
  status: number;
  error: string | null;
  /** Gaps between successive content chunks, seconds. */
  readonly itls: number[];
  /** Content chunks received (one token each for vLLM-style streams). */
  outputChunks: number;
  /** usage.prompt_tokens when the server reported it, else the trace's text tokens. */
  promptTokens: number;
  /** usage.completion_tokens when reported, else outputChunks. */
  completionTokens: number;
  /** usage.prompt_tokens_details.cached_tokens when reported. */
  cachedTokens: number | null;
  /** Serving server (x-inferd-endpoint, or the oracle's choice). */
  endpoint: string | null;
}

export function ok(r: RequestRecord): boolean {
  return r.status === 200 && r.error === null && r.endAt !== null;
}

/** Counters of the model servers summed over the fleet, as deltas over a stage. */
export interface ServerCounters {
  prefixHits: number;
  prefixQueries: number;
  preemptions: number;
  promptTokens: number;
  generationTokens: number;
}

/** Router-side counters over a stage (gateway and scorer /metrics deltas). */
export interface RouterCounters {
  /** Picks the gateway made without the scorer (scorer errors, FailOpen). */
  scorerFailures: number;
  kvLookupErrors: number;
  /** Sum and count of the gateway's own added latency (pick + queue + proxy), seconds. */
  addedLatencySum: number;
  addedLatencyCount: number;
  /** Histogram deltas of the pick path's timings (absent when not scraped, e.g. older records). */
  timings?: Readonly<Record<PickTiming, HistogramSnapshot>>;
}

/**
 * The pick path's timings, each a histogram of the gateway's or the scorer's /metrics:
 * `added` = the gateway's added latency (pick + queue + proxy, `inferd_gateway_added_latency_seconds`),
 * `gatewayPick` = the pick call as the gateway sees it (NATS round trip included),
 * `scorerPick` = the pick inside the scorer, `tokenize` = the scorer's tokenisation of the prompt.
 */
export const PICK_TIMINGS = ["added", "gatewayPick", "scorerPick", "tokenize"] as const;
export type PickTiming = (typeof PICK_TIMINGS)[number];

/** Quantiles of one timing over a stage, ms (NaN without observations); n = observations. */
export interface TimingQuantiles {
  readonly p50: number;
  readonly p90: number;
  readonly n: number;
}

export type PickTimings = Readonly<Record<PickTiming, TimingQuantiles>>;

/** p50/p90 (ms) of each pick-path timing from a stage's histogram deltas; null when not scraped. */
export function pickTimingsOf(router: RouterCounters | null | undefined): PickTimings | null {
  const t = router?.timings;
  if (t === undefined) return null;
  const q = (h: HistogramSnapshot): TimingQuantiles => ({
    p50: histogramQuantile(h, 0.5) * 1000,
    p90: histogramQuantile(h, 0.9) * 1000,
    n: h.count,
  });
  return {
    added: q(t.added),
    gatewayPick: q(t.gatewayPick),
    scorerPick: q(t.scorerPick),
    tokenize: q(t.tokenize),
  };
}

export interface StageResult {
  readonly name: string;
  readonly rate: number;
  readonly warmup: boolean;
  readonly sent: number;
  readonly succeeded: number;
  readonly successRate: number;
  /** Failures by kind: "429", "503", "500", "error" (no response), ... */
  readonly failures: Record<string, number>;
  /** Up to three distinct failure messages, for the report. */
  readonly errorSamples: readonly string[];
  readonly ttft: Summary;
  readonly itl: Summary;
  readonly e2e: Summary;
  /** Seconds from the stage's first send to its last answer. */
  readonly windowSeconds: number;
  readonly achievedRps: number;
  readonly inputTokensPerSecond: number;
  readonly outputTokensPerSecond: number;
  /** Fleet prefix-cache hit rate over the stage (server counters), NaN if not scraped. */
  readonly cacheHitRate: number;
  /** Client-side hit rate from usage.cached_tokens, NaN when servers do not report it. */
  readonly cachedTokenShare: number;
  readonly preemptions: number;
  /** Fleet counter deltas over the stage (null when the servers could not be scraped). */
  readonly counters: ServerCounters | null;
  /** Gateway/scorer counter deltas (null for direct policies or when not scraped). */
  readonly router: RouterCounters | null;
  /** Mean latency the gateway added per request (its own metric), ms; NaN when unknown. */
  readonly routerAddedMs: number;
  /** p50/p90 of the pick path's timings (gateway and scorer histograms); null when not scraped. */
  readonly pickTimings: PickTimings | null;
  readonly perEndpoint: Record<string, number>;
  /** max/mean of requests per server (1 = even). */
  readonly imbalanceMaxOverMean: number;
  readonly imbalanceCov: number;
  /** Load generator lateness (actual - scheduled send), ms. */
  readonly lagMs: Summary;
  readonly dependencyWaitMs: Summary;
}

export interface StageAggregationInput {
  readonly name: string;
  readonly rate: number;
  readonly warmup: boolean;
  readonly records: readonly RequestRecord[];
  readonly counters: ServerCounters | null;
  readonly router?: RouterCounters | null;
  /** Every server of the fleet, so idle ones count in the imbalance. */
  readonly endpoints: readonly string[];
}

export function aggregateStage(input: StageAggregationInput): StageResult {
  const rs = input.records;
  const good = rs.filter(ok);
  const failures: Record<string, number> = {};
  const errorSamples = new Set<string>();
  for (const r of rs) {
    if (ok(r)) continue;
    const key = r.status === 0 ? "error" : r.status === 200 ? "stream-error" : String(r.status);
    failures[key] = (failures[key] ?? 0) + 1;
    if (errorSamples.size < 3) errorSamples.add(`${key}: ${(r.error ?? "no answer").slice(0, 160)}`);
  }
  const ttft = good.filter((r) => r.firstTokenAt !== null).map((r) => (r.firstTokenAt! - r.sentAt) / 1000);
  const e2e = good.map((r) => (r.endAt! - r.sentAt) / 1000);
  const itl: number[] = [];
  for (const r of good) for (const x of r.itls) itl.push(x);
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const r of rs) {
    start = Math.min(start, r.sentAt);
    end = Math.max(end, r.endAt ?? r.sentAt);
  }
  const windowSeconds = rs.length > 0 ? Math.max((end - start) / 1000, 1e-3) : Number.NaN;
  const inTok = good.reduce((a, r) => a + r.promptTokens, 0);
  const outTok = good.reduce((a, r) => a + r.completionTokens, 0);
  const withCached = good.filter((r) => r.cachedTokens !== null);
  const cachedTokenShare =
    withCached.length > 0
      ? withCached.reduce((a, r) => a + r.cachedTokens!, 0) /
        Math.max(
          1,
          withCached.reduce((a, r) => a + r.promptTokens, 0),
        )
      : Number.NaN;
  const perEndpoint: Record<string, number> = {};
  for (const e of input.endpoints) perEndpoint[e] = 0;
  for (const r of good) if (r.endpoint !== null) perEndpoint[r.endpoint] = (perEndpoint[r.endpoint] ?? 0) + 1;
  const imb = imbalance(Object.values(perEndpoint));
  const c = input.counters;
  return {
    name: input.name,
    rate: input.rate,
    warmup: input.warmup,
    sent: rs.length,
    succeeded: good.length,
    successRate: rs.length > 0 ? good.length / rs.length : Number.NaN,
    failures,
    errorSamples: [...errorSamples],
    ttft: summarize(ttft),
    itl: summarize(itl),
    e2e: summarize(e2e),
    windowSeconds,
    achievedRps: rs.length / windowSeconds,
    inputTokensPerSecond: inTok / windowSeconds,
    outputTokensPerSecond: outTok / windowSeconds,
    cacheHitRate: c && c.prefixQueries > 0 ? c.prefixHits / c.prefixQueries : Number.NaN,
    cachedTokenShare,
    preemptions: c ? c.preemptions : Number.NaN,
    counters: c,
    router: input.router ?? null,
    routerAddedMs:
      input.router && input.router.addedLatencyCount > 0
        ? (input.router.addedLatencySum / input.router.addedLatencyCount) * 1000
        : Number.NaN,
    pickTimings: pickTimingsOf(input.router),
    perEndpoint,
    imbalanceMaxOverMean: imb.maxOverMean,
    imbalanceCov: imb.cov,
    lagMs: summarize(rs.map((r) => r.sentAt - r.scheduledAt - r.dependencyWaitMs)),
    dependencyWaitMs: summarize(rs.map((r) => r.dependencyWaitMs)),
  };
}

export function addCounters(a: ServerCounters, b: ServerCounters): ServerCounters {
  return {
    prefixHits: a.prefixHits + b.prefixHits,
    prefixQueries: a.prefixQueries + b.prefixQueries,
    preemptions: a.preemptions + b.preemptions,
    promptTokens: a.promptTokens + b.promptTokens,
    generationTokens: a.generationTokens + b.generationTokens,
  };
}

export function subCounters(after: ServerCounters, before: ServerCounters): ServerCounters {
  return {
    prefixHits: after.prefixHits - before.prefixHits,
    prefixQueries: after.prefixQueries - before.prefixQueries,
    preemptions: after.preemptions - before.preemptions,
    promptTokens: after.promptTokens - before.promptTokens,
    generationTokens: after.generationTokens - before.generationTokens,
  };
}

export const ZERO_COUNTERS: ServerCounters = {
  prefixHits: 0,
  prefixQueries: 0,
  preemptions: 0,
  promptTokens: 0,
  generationTokens: 0,
};
