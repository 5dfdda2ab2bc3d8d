import type { LatencyFeatures, Prediction } from "../state/latency-model.ts";
import type { Plugin } from "./plugin.ts";
import type { Prompt } from "./types.ts";

/** Predicted time to first token, from the online-fitted model (see state/latency-model.ts). */
export interface TtftModel {
  /** Milliseconds to first token of a request with these features on a server of this profile. */
  predictTtftMs(model: string, profile: string, features: LatencyFeatures): number;
}

/** The learned latency model (see state/latency-model.ts): TTFT and time per output token. */
export interface LatencyPredictor {
  predict(model: string, profile: string, features: LatencyFeatures): Prediction;
}

/** Session -> pod bindings shared by all scorer replicas (fed by lifecycle events and own picks). */
export interface SessionLookup {
  /** The pod the session last went to, unless unused for longer than `maxIdleMs`. */
  get(sessionId: string, nowMs: number, maxIdleMs: number): string | undefined;
}

export interface KvLookupQuery {
  readonly model: string;
  readonly lora: string | undefined;
  /** Token ids when the scorer tokenised the prompt; otherwise kv-index tokenises `prompt`. */
  readonly tokens: ArrayLike<number> | undefined;
  readonly prompt: Prompt;
  readonly candidatePods: readonly string[];
  readonly cacheSalt: string;
}

export interface KvLookupAnswer {
  readonly totalBlocks: number;
  readonly blockSize: number;
  readonly promptTokens: number;
  readonly pods: readonly { pod: string; gpuBlocks: number; cpuBlocks: number; matchedBlocks: number }[];
  /**
   * Answered in this process (the index replica): such a lookup cannot become unreachable, so the
   * prefix producer keeps no fallback routing history for it.
   */
  readonly inProcess?: boolean;
}

/** Asks the shared KV index (inferd.v1.kv.lookup) which pods hold the prompt's prefix. */
export type KvLookupFn = (query: KvLookupQuery) => Promise<KvLookupAnswer>;

/**
 * Turns a prompt into the model's token ids (chat template applied), possibly asynchronously (worker
 * threads, the model server); undefined when it cannot give exact tokens for this model.
 */
export type TokenizerFn = (
  model: string,
  prompt: Prompt,
) => ArrayLike<number> | undefined | Promise<ArrayLike<number> | undefined>;

/** What plugin factories may use besides their parameters (llm-d's plugins.Handle). */
export interface Handle {
  readonly ttft: TtftModel;
  readonly latency: LatencyPredictor;
  readonly sessions: SessionLookup;
  readonly kvLookup: KvLookupFn | undefined;
  readonly tokenizer: TokenizerFn | undefined;
  /** Another configured plugin by instance name; complete once every plugin is created. */
  plugin(name: string): Plugin | undefined;
}
