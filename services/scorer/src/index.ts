// Public surface of @inferd/scorer: the runnable service, config validation for the CLI, and the pure
// policy pieces benchmarks and tests reuse.

export { parseStaticEndpoints } from "./adapters/endpoint-source.ts";
export { type IndexReplica, type IndexReplicaOptions, startIndexReplica } from "./adapters/index-replica.ts";
export type { ScorerConfig } from "./config.ts";
export { loadScorerConfig, SCORER_CONFIG } from "./config.ts";
export type { CoreOptions, PolicySource, ScorerCore } from "./core.ts";
export { createScorerCore, DEFAULT_TTFT_PRIOR, policyText, validatePolicy } from "./core.ts";
export { buildScheduler, describeScheduler } from "./framework/build.ts";
export type { BuiltinProfileName } from "./framework/builtin-profiles.ts";
export { BUILTIN_PROFILE_NAMES, BUILTIN_PROFILES, isBuiltinProfile } from "./framework/builtin-profiles.ts";
export { CycleState } from "./framework/cycle.ts";
export { ACCEPTED_API_VERSIONS, parsePickerConfig } from "./framework/epp-config.ts";
export { ConfigError } from "./framework/errors.ts";
export type {
  Handle,
  KvLookupAnswer,
  KvLookupFn,
  KvLookupQuery,
  TokenizerFn,
  TtftModel,
} from "./framework/handle.ts";
export { Params } from "./framework/params.ts";
export type * from "./framework/plugin.ts";
export { Registry } from "./framework/registry.ts";
export type { PluginTimer, SchedulerConfig, SchedulingProfile } from "./framework/scheduler.ts";
export { Scheduler } from "./framework/scheduler.ts";
export { estimateTokens } from "./framework/tokens.ts";
export type * from "./framework/types.ts";
export type { Choice, PickInput, PickResult } from "./pick/pick-service.ts";
export { PickService } from "./pick/pick-service.ts";
export { builtinRegistry, registerBuiltinPlugins } from "./plugins/index.ts";
export type { RunningScorer, RunScorerOptions } from "./run.ts";
export { runScorer } from "./run.ts";
export { EndpointStore } from "./state/endpoints.ts";
export type { LifecycleEvent, LifecyclePhase } from "./state/inflight.ts";
export { InflightTracker } from "./state/inflight.ts";
export { extractMetrics, METRIC_ALIASES } from "./state/metric-aliases.ts";
export { TtftPredictor } from "./state/ttft-predictor.ts";
export { validateConfigFile } from "./validate.ts";
