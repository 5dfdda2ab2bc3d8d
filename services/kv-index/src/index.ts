// Public surface of @inferd/kv-index (used by the CLI and by anyone embedding the index).

// The index itself lives in @inferd/block-index (shared with the scorer's replica).
export type {
  ApplyOptions,
  BlockIndex,
  Checkpoint,
  EngineSnapshot,
  IndexOp,
  PrefixMatch,
  Tier,
} from "@inferd/block-index";
export {
  createIndex,
  engineId,
  type IndexConfig,
  InMemoryBlockIndex,
  InstrumentedBlockIndex,
  keyHex,
  modelPrefix,
  parseEngineId,
  RedisBlockIndex,
  TIERS,
} from "@inferd/block-index";
export { KV_INDEX_CONFIG, type KvIndexConfig } from "./config.ts";
export { parseLookupBody } from "./lookup/http.ts";
export { LookupInputError, type LookupOptions, PrefixLookup } from "./lookup/lookup.ts";
export { type RunningKvIndex, startKvIndex } from "./service.ts";
export { type TailOptions, tailKvEvents } from "./tail.ts";
