import type { ChatRequest } from "@inferd/kv-blocks";
/**
 * The data every scheduling plugin reads. Pure values: no I/O, no clocks (the cycle carries `nowMs`).
 * "Unknown" is always `undefined`, never 0: a scraped metric that is missing is not an idle server.
 */

export type Role = "both" | "prefill" | "decode";

/** A model server as the inventory (INFERD_ENDPOINTS or a static list) describes it. */
export interface EndpointInfo {
  readonly model: string;
  readonly pod: string;
  /** Base URL, e.g. http://127.0.0.1:8000. */
  readonly address: string;
  readonly role: Role;
  readonly loraAdapters: readonly string[];
  readonly ready: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /** Tokens per KV block, 0 when unknown. */
  readonly blockSize: number;
  /** True when the server publishes vLLM KV events (kv-index then knows its cache precisely). */
  readonly publishesKvEvents: boolean;
  /** --max-loras, 0 when unknown. */
  readonly maxLoras: number;
}

/** Last successful scrape of an endpoint's /metrics; each field undefined when the metric was absent. */
export interface EndpointMetrics {
  readonly waiting?: number;
  readonly running?: number;
  /** Fraction in [0, 1]. */
  readonly kvUsage?: number;
  readonly blockSize?: number;
  readonly numGpuBlocks?: number;
  readonly runningLoras: readonly string[];
  readonly waitingLoras: readonly string[];
  readonly maxLora?: number;
  /** Wall-clock time of the scrape, ms. */
  readonly scrapedAtMs: number;
}

/** Work the scorer replicas know to be in flight on an endpoint (from lifecycle events and own picks). */
export interface InflightLoad {
  readonly requests: number;
  /** Prompt tokens of in-flight requests (their KV footprint). */
  readonly tokens: number;
  /** Uncached prompt tokens still to prefill (requests that have not produced a first token). */
  readonly prefillTokens: number;
}

export const NO_INFLIGHT: InflightLoad = { requests: 0, tokens: 0, prefillTokens: 0 };

/** What plugins see of one endpoint during a scheduling cycle. */
export interface Endpoint {
  readonly pod: string;
  readonly info: EndpointInfo;
  /** Undefined when never scraped or the last good scrape is older than the staleness limit. */
  readonly metrics: EndpointMetrics | undefined;
  /** True when the last scrape failed. */
  readonly unreachable: boolean;
  readonly inflight: InflightLoad;
}

/** How much of the prompt one endpoint holds, in blocks from the first. */
export interface PrefixMatch {
  readonly matchedBlocks: number;
  readonly gpuBlocks: number;
  readonly cpuBlocks: number;
  /** speculative: routed there moments ago, not yet in its KV events (prefix-cache README). */
  readonly source: "precise" | "approximate" | "speculative";
}

export interface PrefixInfo {
  /** Full blocks in the prompt: the most any endpoint can match. */
  readonly totalBlocks: number;
  readonly blockSize: number;
  /** Pods without an entry matched nothing. */
  readonly matches: ReadonlyMap<string, PrefixMatch>;
}

export type Prompt =
  | { readonly kind: "text"; readonly text: string }
  | {
      readonly kind: "chat";
      readonly messages: readonly { readonly role: string; readonly content: string }[];
      readonly addGenerationPrompt: boolean;
      /**
       * The whole chat request as the chat template sees it (tools, kwargs, tool calls, ...); absent
       * in hand-made prompts, where messages + addGenerationPrompt are all there is.
       */
      readonly request?: ChatRequest;
      /** Why `request` could not be built from the pick request (malformed JSON fields), if so. */
      readonly requestError?: string;
    }
  | { readonly kind: "tokens"; readonly ids: ArrayLike<number> }
  | { readonly kind: "none" };

/** The request as the scheduler sees it. */
export interface SchedulingRequest {
  readonly requestId: string;
  /** Model as requested: base model or LoRA adapter. */
  readonly model: string;
  /** Base model serving it. */
  readonly baseModel: string;
  /** Adapter name when `model` is an adapter, else undefined. */
  readonly lora: string | undefined;
  readonly sessionId: string;
  readonly priority: number;
  readonly sloTtftMs: number | undefined;
  readonly sloTpotMs: number | undefined;
  readonly maxTokens: number;
  readonly cacheSalt: string;
  readonly prompt: Prompt;
}

/** One candidate after scoring in a profile. */
export interface ScoredEndpoint {
  readonly endpoint: Endpoint;
  /** Weighted total in [0, 1] (sum of weight x score over the sum of weights). */
  readonly total: number;
  /** Plugin name -> raw score in [0, 1]; absent when the plugin left the endpoint unscored. */
  readonly scores: ReadonlyMap<string, number>;
}

export type PickOutcome = "OK" | "NO_ENDPOINTS" | "SATURATED" | "PD_UNAVAILABLE" | "SLO_UNATTAINABLE";
