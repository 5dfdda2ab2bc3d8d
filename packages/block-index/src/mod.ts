// Public surface of @inferd/block-index: the KV-block index contract, its backends, and the
// indexer that turns KvEventBatches into index writes (used by kv-index and by each scorer's
// in-process replica). The contract suite for backends is `@inferd/block-index/contract`.

export type {
  ApplyOptions,
  BlockIndex,
  Checkpoint,
  EngineSnapshot,
  IndexLimits,
  IndexOp,
  PrefixMatch,
  Tier,
} from "./block-index.ts";
export { ApplyBasedIndex, engineId, parseEngineId, TIERS } from "./block-index.ts";
export { createIndex, type IndexConfig, type RedisRole } from "./create-index.ts";
export { InMemoryBlockIndex } from "./in-memory.ts";
export {
  type BatchOutcome,
  Indexer,
  type IndexerMetrics,
  type IndexerOptions,
  StoreLostWritesError,
  type StreamBatch,
} from "./indexer.ts";
export { InstrumentedBlockIndex } from "./instrumented.ts";
export { joinHalves, KeyTable, keyHalves, type PackedKeys, packKeys } from "./key-table.ts";
export { type Anomaly, type Plan, type PlanContext, planBatch, type RulesFor } from "./plan.ts";
export { keyHex, modelPrefix, prefixFromBitmaps, RedisBlockIndex } from "./redis.ts";
export {
  detectVllmVersion,
  fetchVllmVersion,
  rulesByModel,
  VllmVersions,
  validVllmVersion,
  vllmVersionFields,
  vllmVersionsOf,
} from "./vllm-versions.ts";
