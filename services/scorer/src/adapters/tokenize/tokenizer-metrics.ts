import { Counter, Histogram, type Registry } from "prom-client";
import type { TokenizedWhere, TokenizerObserver } from "./model-tokenizers.ts";

const MS_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.5,
];

/** The scorer's tokenisation metrics (kept apart from ScorerMetrics: one purpose per file). */
export class TokenizerMetrics implements TokenizerObserver {
  readonly duration: Histogram<"where">;
  readonly approximateTotal: Counter<"model" | "reason">;
  readonly missedServerHits: Counter<"model">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.duration = new Histogram({
      name: "inferd_scorer_tokenize_duration_seconds",
      help: "Tokenisation time of a pick's prompt: CPU in the tokenizer's worker thread (local), on the event loop for a warm prefix (inline), or the /tokenize round trip (server).",
      labelNames: ["where"],
      buckets: MS_BUCKETS,
      registers,
    });
    this.approximateTotal = new Counter({
      name: "inferd_scorer_tokenizer_approximate_total",
      help: "Picks routed with approximate prefixes because the model had no exact tokens (reason: approximate = configured so, unavailable = no usable source, failed = tokenisation failed).",
      labelNames: ["model", "reason"],
      registers,
    });
    this.missedServerHits = new Counter({
      name: "inferd_scorer_prefix_lookup_missed_server_hits_total",
      help: "Picks whose prefix lookup expected no cached tokens on the chosen server although the server reported cached tokens (a tokenizer mismatch shows up here).",
      labelNames: ["model"],
      registers,
    });
  }

  tokenized(_model: string, where: TokenizedWhere, ms: number): void {
    this.duration.observe({ where }, ms / 1000);
  }

  approximate(model: string, reason: "approximate" | "unavailable" | "failed"): void {
    this.approximateTotal.inc({ model, reason });
  }
}

/**
 * Compares each own pick's expected cached tokens with what the server reported in the lifecycle
 * events (usage.prompt_tokens_details.cached_tokens, carried by the gateway): expected none, got some
 * = a lookup that matched nothing although the server had the prefix.
 */
export class CachedTokenAudit {
  private readonly expected = new Map<string, { pod: string; model: string; cached: number }>();
  private readonly max: number;
  private readonly onMiss: (model: string) => void;

  constructor(onMiss: (model: string) => void, max = 100_000) {
    this.onMiss = onMiss;
    this.max = max;
  }

  picked(requestId: string, model: string, pod: string, cachedTokens: number): void {
    if (this.expected.size >= this.max) this.expected.delete(this.expected.keys().next().value!);
    this.expected.set(requestId, { pod, model, cached: cachedTokens });
  }

  /** A lifecycle event: `final` when the request is over (its entry is dropped). */
  observed(requestId: string, endpoint: string, serverCachedTokens: number, final: boolean): void {
    const e = this.expected.get(requestId);
    if (!e) return;
    if (serverCachedTokens > 0 && e.pod === endpoint) {
      if (e.cached === 0) this.onMiss(e.model);
      this.expected.delete(requestId);
    } else if (final) this.expected.delete(requestId);
  }
}
