// Public surface of @inferd/kv-index (used by the CLI and by anyone embedding the index).

export { KV_INDEX_CONFIG, type KvIndexConfig } from "./config.ts";
export type {
  ApplyOptions,
  BlockIndex,
  Checkpoint,
  EngineSnapshot,
  IndexOp,
  PrefixMatch,
  Tier,
} from "./index/block-index.ts";
export { engineId, parseEngineId, TIERS } from "./index/block-index.ts";
export { createIndex, type IndexConfig } from "./index/create-index.ts";
export { InMemoryBlockIndex } from "./index/in-memory.ts";
export { InstrumentedBlockIndex } from "./index/instrumented.ts";
export { keyHex, modelPrefix, RedisBlockIndex } from "./index/redis.ts";
export { parseLookupBody } from "./lookup/http.ts";
export { LookupInputError, type LookupOptions, PrefixLookup } from "./lookup/lookup.ts";
export { type RunningKvIndex, startKvIndex } from "./service.ts";
export { type TailOptions, tailKvEvents } from "./tail.ts";
