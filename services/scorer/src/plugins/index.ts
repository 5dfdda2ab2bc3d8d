import { Registry } from "../framework/registry.ts";
import { ACTIVE_REQUEST_SCORER, activeRequestScorerFactory } from "./active-request/scorer.ts";
import { BUILT_IN_EQUIVALENTS, builtInEquivalentFactory } from "./compat/data-layer.ts";
import {
  KV_CACHE_UTILIZATION_SCORER,
  kvCacheUtilizationScorerFactory,
} from "./kv-cache-utilization/scorer.ts";
import { LOAD_AWARE_SCORER, loadAwareScorerFactory } from "./load-aware/scorer.ts";
import { LORA_AFFINITY_SCORER, loraAffinityScorerFactory } from "./lora-affinity/scorer.ts";
import { MAX_SCORE_PICKER, maxScorePickerFactory } from "./max-score/picker.ts";
import {
  ALWAYS_DISAGG_PD_DECIDER,
  alwaysDisaggPdDeciderFactory,
  PREFIX_BASED_PD_DECIDER,
  prefixBasedPdDeciderFactory,
} from "./pd/deciders.ts";
import {
  DISAGG_PROFILE_HANDLER,
  disaggProfileHandlerFactory,
  PD_PROFILE_HANDLER,
  pdProfileHandlerFactory,
} from "./pd/handler.ts";
import { PREDICTED_LATENCY_FILTER, predictedLatencyFilterFactory } from "./predicted-latency/filter.ts";
import { PREDICTED_LATENCY_SCORER, predictedLatencyScorerFactory } from "./predicted-latency/scorer.ts";
import { PREDICTED_TTFT_SCORER, predictedTtftScorerFactory } from "./predicted-ttft/scorer.ts";
import { PREFIX_CACHE_AFFINITY_FILTER, prefixCacheAffinityFilterFactory } from "./prefix-affinity/filter.ts";
import {
  APPROX_PREFIX_CACHE_PRODUCER,
  approxPrefixCacheProducerFactory,
  PRECISE_PREFIX_CACHE_PRODUCER,
  PREFIX_CACHE_PRODUCER,
  precisePrefixCacheProducerFactory,
  prefixCacheProducerFactory,
} from "./prefix-cache/producer.ts";
import {
  PRECISE_PREFIX_CACHE_SCORER,
  PREFIX_CACHE_SCORER,
  precisePrefixCacheScorerFactory,
  prefixCacheScorerFactory,
} from "./prefix-cache/scorer.ts";
import { QUEUE_SCORER, queueScorerFactory } from "./queue/scorer.ts";
import { RANDOM_PICKER, randomPickerFactory } from "./random/picker.ts";
import { DECODE_FILTER, decodeFilterFactory, PREFILL_FILTER, prefillFilterFactory } from "./role/filters.ts";
import { ROUND_ROBIN_PICKER, roundRobinPickerFactory } from "./round-robin/picker.ts";
import { RUNNING_REQUESTS_SIZE_SCORER, runningRequestsSizeScorerFactory } from "./running-requests/scorer.ts";
import {
  CONCURRENCY_DETECTOR,
  concurrencyDetectorFactory,
  UTILIZATION_DETECTOR,
  utilizationDetectorFactory,
} from "./saturation/detectors.ts";
import { SESSION_AFFINITY_SCORER, sessionAffinityScorerFactory } from "./session-affinity/scorer.ts";
import { SINGLE_PROFILE_HANDLER, singleProfileHandlerFactory } from "./single-profile/handler.ts";
import { SLO_TTFT_FILTER, sloTtftFilterFactory } from "./slo-ttft/filter.ts";
import { TOKEN_LOAD_SCORER, tokenLoadScorerFactory } from "./token-load/scorer.ts";
import { TOKEN_PRODUCER, tokenProducerFactory } from "./token-producer/producer.ts";
import { WEIGHTED_RANDOM_PICKER, weightedRandomPickerFactory } from "./weighted-random/picker.ts";

/** The one list of built-in plugin types (llm-d's names where llm-d has the plugin). */
export function registerBuiltinPlugins(r: Registry): Registry {
  // Filters
  r.register(DECODE_FILTER, decodeFilterFactory, "keeps decode and both-role endpoints");
  r.register(PREFILL_FILTER, prefillFilterFactory, "keeps prefill and both-role endpoints");
  r.register(PREFIX_CACHE_AFFINITY_FILTER, prefixCacheAffinityFilterFactory, "sticky until saturated");
  r.register(
    SLO_TTFT_FILTER,
    sloTtftFilterFactory,
    "inferd: endpoints predicted to meet x-llm-d-slo-ttft-ms",
  );
  r.register(
    PREDICTED_LATENCY_FILTER,
    predictedLatencyFilterFactory,
    "inferd: endpoints the learned model predicts to meet the TTFT and TPOT objectives",
  );
  // Scorers
  r.register(QUEUE_SCORER, queueScorerFactory, "shortest waiting queue (min-max)");
  r.register(KV_CACHE_UTILIZATION_SCORER, kvCacheUtilizationScorerFactory, "1 - KV cache usage");
  r.register(
    "kv-cache-scorer",
    kvCacheUtilizationScorerFactory,
    "old name of kv-cache-utilization-scorer",
    KV_CACHE_UTILIZATION_SCORER,
  );
  r.register(PREFIX_CACHE_SCORER, prefixCacheScorerFactory, "matched prefix blocks / prompt blocks");
  r.register(
    PRECISE_PREFIX_CACHE_SCORER,
    precisePrefixCacheScorerFactory,
    "llm-d v0.3 precise scorer",
    PREFIX_CACHE_SCORER,
  );
  r.register(LOAD_AWARE_SCORER, loadAwareScorerFactory, "0.5 idle, down to 0 at the queue threshold");
  r.register(TOKEN_LOAD_SCORER, tokenLoadScorerFactory, "1 - inflight tokens / threshold");
  r.register(
    RUNNING_REQUESTS_SIZE_SCORER,
    runningRequestsSizeScorerFactory,
    "fewest running requests (min-max)",
  );
  r.register(ACTIVE_REQUEST_SCORER, activeRequestScorerFactory, "fewest in-flight requests");
  r.register(
    LORA_AFFINITY_SCORER,
    loraAffinityScorerFactory,
    "adapter running 1 / free slot 0.8 / waiting 0.6",
  );
  r.register(SESSION_AFFINITY_SCORER, sessionAffinityScorerFactory, "x-session-id stickiness");
  r.register(
    PREDICTED_TTFT_SCORER,
    predictedTtftScorerFactory,
    "inferd: best predicted TTFT / predicted TTFT",
  );
  r.register(
    PREDICTED_LATENCY_SCORER,
    predictedLatencyScorerFactory,
    "inferd: SLO headroom (TTFT and TPOT) under the learned latency model",
  );
  // Pickers
  r.register(MAX_SCORE_PICKER, maxScorePickerFactory, "highest score first, ties random");
  r.register(RANDOM_PICKER, randomPickerFactory, "random order");
  r.register(WEIGHTED_RANDOM_PICKER, weightedRandomPickerFactory, "random order weighted by score");
  r.register(ROUND_ROBIN_PICKER, roundRobinPickerFactory, "inferd: rotating order");
  // Profile handlers and deciders
  r.register(SINGLE_PROFILE_HANDLER, singleProfileHandlerFactory, "runs the one profile");
  r.register(DISAGG_PROFILE_HANDLER, disaggProfileHandlerFactory, "prefill/decode, decode first");
  r.register(PD_PROFILE_HANDLER, pdProfileHandlerFactory, "deprecated llm-d name", DISAGG_PROFILE_HANDLER);
  r.register(
    PREFIX_BASED_PD_DECIDER,
    prefixBasedPdDeciderFactory,
    "P/D when uncached prompt >= nonCachedTokens",
  );
  r.register(ALWAYS_DISAGG_PD_DECIDER, alwaysDisaggPdDeciderFactory, "always P/D");
  // Data producers
  r.register(TOKEN_PRODUCER, tokenProducerFactory, "tokenises the prompt (tokenizer or estimate)");
  r.register(
    PREFIX_CACHE_PRODUCER,
    prefixCacheProducerFactory,
    "inferd: precise where servers publish events, else approximate",
  );
  r.register(
    PRECISE_PREFIX_CACHE_PRODUCER,
    precisePrefixCacheProducerFactory,
    "prefix matches from kv-index",
  );
  r.register(
    APPROX_PREFIX_CACHE_PRODUCER,
    approxPrefixCacheProducerFactory,
    "prefix matches from own routing history",
  );
  // Saturation detectors
  r.register(UTILIZATION_DETECTOR, utilizationDetectorFactory, "queue depth / KV usage thresholds");
  r.register(CONCURRENCY_DETECTOR, concurrencyDetectorFactory, "in-flight request / token limits");
  // llm-d data-layer plugins whose job is built into inferd
  for (const type of Object.keys(BUILT_IN_EQUIVALENTS)) {
    r.register(type, builtInEquivalentFactory(type), `built in: ${BUILT_IN_EQUIVALENTS[type]}`);
  }
  return r;
}

export function builtinRegistry(): Registry {
  return registerBuiltinPlugins(new Registry());
}
