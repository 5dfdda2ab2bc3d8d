import type { Endpoint } from "../framework/types.ts";
import type { LatencyFeatures, LatencyModel } from "./latency-model.ts";

/** Endpoint label naming the server profile (hardware, parallelism, engine flags); absent = "". */
export const PROFILE_LABEL = "inferd.ai/server-profile";

export function profileOf(e: Pick<Endpoint, "info">): string {
  return e.info.labels[PROFILE_LABEL] ?? "";
}

/** The features of a request on an endpoint as plugins and the trainer both see them. */
export function featuresOf(e: Endpoint, promptTokens: number, uncachedTokens: number): LatencyFeatures {
  return {
    uncachedTokens,
    promptTokens,
    queuedPrefillTokens: e.inflight.prefillTokens,
    inflightRequests: e.inflight.requests,
    inflightTokens: e.inflight.tokens,
    kvUsage: e.metrics?.kvUsage,
    waiting: e.metrics?.waiting,
  };
}

interface Pending {
  model: string;
  profile: string;
  features: LatencyFeatures;
  ttftSeen: boolean;
}

/** Requests routed but not finished that the trainer remembers at most (lost final events). */
const MAX_PENDING = 50_000;

/**
 * Turns the lifecycle stream into training samples: the features are captured when a request is
 * ROUTED (the server's state as the router saw it), the TTFT target arrives with FIRST_TOKEN and the
 * time-per-output-token target with COMPLETED. Every replica reads the same stream, so every
 * replica trains the same model.
 */
export class LatencyTrainer {
  readonly #model: LatencyModel;
  readonly #pending = new Map<string, Pending>();

  constructor(model: LatencyModel) {
    this.#model = model;
  }

  routed(requestId: string, model: string, profile: string, features: LatencyFeatures): void {
    this.#pending.delete(requestId);
    this.#pending.set(requestId, { model, profile, features, ttftSeen: false });
    if (this.#pending.size > MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value as string);
  }

  /** `exact` corrects the features the in-flight tracker knows better (uncached part, queue ahead). */
  firstToken(
    requestId: string,
    ttftMs: number,
    exact?: { uncachedTokens: number; queuedPrefillTokens: number },
  ): void {
    const p = this.#pending.get(requestId);
    if (p === undefined || p.ttftSeen) return;
    p.ttftSeen = true;
    if (exact) p.features = { ...p.features, ...exact };
    this.#model.observe({ model: p.model, profile: p.profile, features: p.features, ttftMs });
  }

  finished(requestId: string, tpotMs: number | undefined): void {
    const p = this.#pending.get(requestId);
    if (p === undefined) return;
    this.#pending.delete(requestId);
    if (tpotMs !== undefined && tpotMs > 0)
      this.#model.observe({ model: p.model, profile: p.profile, features: p.features, tpotMs });
  }

  get pending(): number {
    return this.#pending.size;
  }
}
