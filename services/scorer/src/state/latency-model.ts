import type { TtftModel } from "../framework/handle.ts";
import { OnlineRidge } from "./online-ridge.ts";
import { WarmingRegression } from "./warming-regression.ts";

/** What the server looked like when a request was routed to it, and what the request is. */
export interface LatencyFeatures {
  /** Prompt tokens the server must prefill (not in its prefix cache). */
  uncachedTokens: number;
  promptTokens: number;
  /** Uncached prompt tokens of requests ahead of this one still waiting for prefill on that server. */
  queuedPrefillTokens: number;
  /** Requests in flight on the server (queued and running). */
  inflightRequests: number;
  /** Prompt tokens of the requests in flight (their KV footprint). */
  inflightTokens: number;
  /** Scraped KV-cache use in [0, 1]; undefined when unknown. */
  kvUsage: number | undefined;
  /** Scraped waiting requests; undefined when unknown. */
  waiting: number | undefined;
}

export interface LatencySample {
  model: string;
  /** Server profile (hardware, parallelism, engine flags): servers that share one behave alike. */
  profile: string;
  features: LatencyFeatures;
  ttftMs?: number;
  /** Time per output token after the first (the mean inter-token latency). */
  tpotMs?: number;
}

export interface LatencyPrior {
  /** Fixed cost before prefill starts, ms. */
  overheadMs: number;
  /** Prefill throughput of one server, tokens per second. */
  prefillTokensPerSecond: number;
  /** Time per output token of an idle server, ms. */
  tpotMs: number;
}

export interface Prediction {
  ttftMs: number;
  tpotMs: number;
}

/**
 * TTFT features. Token counts in thousands keep the regression well conditioned. The quadratic
 * term is attention's cost on long prompts; the products let KV pressure and queueing scale the
 * prefill cost instead of only adding to it (what a linear fit over uncached + queued misses).
 */
export const TTFT_FEATURES = [
  "1",
  "uncached_k",
  "uncached_k^2",
  "queued_prefill_k",
  "inflight_requests",
  "inflight_tokens_k",
  "kv_usage",
  "kv_usage*uncached_k",
  "waiting",
  "prompt_k",
] as const;
export const TPOT_FEATURES = ["1", "inflight_requests", "inflight_tokens_k", "kv_usage", "prompt_k"] as const;

/**
 * Every coefficient but the fixed cost is held ≥ 0: more tokens to prefill, more work queued or
 * running, fuller KV cache never make a request faster. Without this the fit learns the router's
 * own bias (it sends prompts to the server holding their prefix, usually the busiest one) as "load
 * lowers TTFT" and ranks the busiest server first once no prefix separates the servers.
 */
const TTFT_NON_NEGATIVE = TTFT_FEATURES.flatMap((name, i) => (name === "1" ? [] : [i]));
const TPOT_NON_NEGATIVE = TPOT_FEATURES.flatMap((name, i) => (name === "1" ? [] : [i]));

/** What a fit predicts from until it has `minSamples` (see warming-regression.ts). */
const TTFT_CORE = (["1", "uncached_k", "queued_prefill_k"] as const).map((n) => TTFT_FEATURES.indexOf(n));
const TPOT_CORE = (["1", "inflight_requests"] as const).map((n) => TPOT_FEATURES.indexOf(n));

function ttftX(f: LatencyFeatures, out: Float64Array): Float64Array {
  const u = f.uncachedTokens / 1000;
  const kv = f.kvUsage ?? 0;
  out[0] = 1;
  out[1] = u;
  out[2] = u * u;
  out[3] = f.queuedPrefillTokens / 1000;
  out[4] = f.inflightRequests;
  out[5] = f.inflightTokens / 1000;
  out[6] = kv;
  out[7] = kv * u;
  out[8] = f.waiting ?? 0;
  out[9] = f.promptTokens / 1000;
  return out;
}

function tpotX(f: LatencyFeatures, out: Float64Array): Float64Array {
  out[0] = 1;
  out[1] = f.inflightRequests;
  out[2] = f.inflightTokens / 1000;
  out[3] = f.kvUsage ?? 0;
  out[4] = f.promptTokens / 1000;
  return out;
}

/**
 * Samples before a fit predicts from all its features: ~10 per weight. Until then its core features
 * answer (a few samples pin those down; ten weights from a handful of samples follow noise).
 */
const DEFAULT_MIN_SAMPLES = 100;

interface Fit {
  ttft: WarmingRegression;
  tpot: WarmingRegression;
}

/** Relative errors of one prediction against what happened, reported before the model learns it. */
export interface PredictionError {
  model: string;
  target: "ttft" | "tpot";
  predictedMs: number;
  actualMs: number;
}

/**
 * The learned latency model: TTFT and time per output token, per (model, server profile),
 * trained online from the request lifecycle stream every scorer replica reads (so replicas learn
 * the same model; no sidecar). A new profile starts from its model's fit, a new model from the
 * prior (overhead + prompt / prefill throughput; the idle TPOT). Every weight but the fixed cost is
 * held ≥ 0, and a fit predicts from its core features (fixed cost, tokens to prefill, prefill queued
 * ahead) until it has `minSamples` samples. Predictions are never negative.
 * Also the `TtftModel` the TTFT-ranking plugins use.
 */
export class LatencyModel implements TtftModel {
  readonly #prior: LatencyPrior;
  readonly #forgetting: number;
  readonly #minSamples: number;
  readonly #fits = new Map<string, Fit>();
  /** model -> profile -> the fit predictions read; cleared whenever a fit is created. */
  readonly #readFits = new Map<string, Map<string, Fit>>();
  /** The cold-start fit, read (never updated) by predictions for a model nothing was learnt for. */
  #sharedPrior: Fit | undefined;
  readonly #onError: ((e: PredictionError) => void) | undefined;
  readonly #x = new Float64Array(TTFT_FEATURES.length);
  readonly #y = new Float64Array(TPOT_FEATURES.length);

  constructor(
    prior: LatencyPrior,
    opts: { forgetting?: number; minSamples?: number; onError?: (e: PredictionError) => void } = {},
  ) {
    this.#prior = prior;
    this.#forgetting = opts.forgetting ?? 0.998;
    this.#minSamples = opts.minSamples ?? DEFAULT_MIN_SAMPLES;
    this.#onError = opts.onError;
  }

  predict(model: string, profile: string, f: LatencyFeatures): Prediction {
    const fit = this.#readFit(model, profile);
    return {
      ttftMs: Math.max(0, fit.ttft.predict(ttftX(f, this.#x))),
      tpotMs: Math.max(0, fit.tpot.predict(tpotX(f, this.#y))),
    };
  }

  predictTtftMs(model: string, profile: string, f: LatencyFeatures): number {
    return Math.max(0, this.#readFit(model, profile).ttft.predict(ttftX(f, this.#x)));
  }

  observe(s: LatencySample): void {
    const fits = [this.#fit(s.model, s.profile, true)];
    // The model-wide fit ("" profile) learns from every profile: it is the start of new profiles.
    if (s.profile !== "") fits.push(this.#fit(s.model, "", true));
    if (s.ttftMs !== undefined && Number.isFinite(s.ttftMs) && s.ttftMs >= 0) {
      const x = ttftX(s.features, new Float64Array(TTFT_FEATURES.length));
      const predicted = Math.max(0, fits[0]!.ttft.predict(x));
      this.#onError?.({ model: s.model, target: "ttft", predictedMs: predicted, actualMs: s.ttftMs });
      for (const f of fits) f.ttft.update(x, s.ttftMs);
    }
    if (s.tpotMs !== undefined && Number.isFinite(s.tpotMs) && s.tpotMs > 0) {
      const x = tpotX(s.features, new Float64Array(TPOT_FEATURES.length));
      const predicted = Math.max(0, fits[0]!.tpot.predict(x));
      this.#onError?.({ model: s.model, target: "tpot", predictedMs: predicted, actualMs: s.tpotMs });
      for (const f of fits) f.tpot.update(x, s.tpotMs);
    }
  }

  /** Coefficients and sample counts (for tests, logs and `inferd` tools). */
  describe(model: string, profile = ""): { ttft: number[]; tpot: number[]; samples: number } {
    const fit = this.#fits.get(`${model}\u0000${profile}`);
    return {
      ttft: [...(fit?.ttft.theta ?? this.#priorFit().ttft.theta)],
      tpot: [...(fit?.tpot.theta ?? this.#priorFit().tpot.theta)],
      samples: fit?.ttft.samples ?? 0,
    };
  }

  /** The fit a prediction reads, without building its key: called per endpoint and pick. */
  #readFit(model: string, profile: string): Fit {
    let byProfile = this.#readFits.get(model);
    if (byProfile === undefined) {
      byProfile = new Map();
      this.#readFits.set(model, byProfile);
    }
    let fit = byProfile.get(profile);
    if (fit === undefined) {
      fit = this.#fit(model, profile, false);
      byProfile.set(profile, fit);
    }
    return fit;
  }

  #fit(model: string, profile: string, create: boolean): Fit {
    const key = `${model}\u0000${profile}`;
    let fit = this.#fits.get(key);
    if (fit !== undefined) return fit;
    const base = profile === "" ? undefined : this.#fits.get(`${model}\u0000`);
    // A prediction only reads the fit: the model's fit or the shared prior do, without the two
    // ridge objects per endpoint and pick that a copy would allocate.
    if (!create) {
      if (base) return base;
      this.#sharedPrior ??= this.#priorFit();
      return this.#sharedPrior;
    }
    fit = base ? { ttft: base.ttft.clone(), tpot: base.tpot.clone() } : this.#priorFit();
    this.#fits.set(key, fit);
    this.#readFits.clear();
    return fit;
  }

  #priorFit(): Fit {
    const msPerK = 1e6 / this.#prior.prefillTokensPerSecond;
    const ttft = new Array<number>(TTFT_FEATURES.length).fill(0);
    ttft[0] = this.#prior.overheadMs;
    ttft[1] = msPerK;
    ttft[3] = msPerK;
    const tpot = new Array<number>(TPOT_FEATURES.length).fill(0);
    tpot[0] = this.#prior.tpotMs;
    return {
      ttft: this.#warming(ttft, 1e4, TTFT_NON_NEGATIVE, TTFT_CORE),
      tpot: this.#warming(tpot, 1e2, TPOT_NON_NEGATIVE, TPOT_CORE),
    };
  }

  #warming(
    prior: number[],
    variance: number,
    nonNegative: readonly number[],
    core: readonly number[],
  ): WarmingRegression {
    const full = new OnlineRidge(prior, variance, this.#forgetting, { nonNegative });
    const coreFit = new OnlineRidge(
      core.map((j) => prior[j]!),
      variance,
      this.#forgetting,
      { nonNegative: core.flatMap((j, k) => (nonNegative.includes(j) ? [k] : [])) },
    );
    return new WarmingRegression(full, coreFit, core, this.#minSamples);
  }
}
