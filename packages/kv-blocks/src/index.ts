export { CborWriter, encodeCanonicalCbor } from "./cbor/canonical.ts";
export {
  type BatchFrameInfo,
  batchToJson,
  type HashLine,
  type HashLinesOptions,
  hashLines,
  parseTokenIds,
} from "./cli.ts";
export { MalformedKvEventError } from "./errors.ts";
export { decodeKvEventBatch, toUint64Hash } from "./events/decode.ts";
export {
  ARRAY_LAYOUTS,
  type ArrayLayout,
  type EncodableBatch,
  type EncodableEvent,
  type EncodableHash,
  type EncodeOptions,
  encodeKvEventBatch,
} from "./events/encode.ts";
export {
  decodeSeq,
  END_SEQ,
  encodeSeq,
  formatTopic,
  isEndSeq,
  type KvTopic,
  parseTopic,
  replayBatchFrames,
  replayEndFrames,
  TOPIC_PREFIX,
} from "./events/frames.ts";
export {
  extraKeysFromProto,
  extraKeysToProto,
  type ToProtoContext,
  tierOfMedium,
  toProtoBatch,
} from "./events/to-proto.ts";
export type {
  DecodedAllBlocksCleared,
  DecodedBatch,
  DecodedBlockRemoved,
  DecodedBlockStored,
  DecodedEvent,
  DecodedUnknownEvent,
  EventEncoding,
  ExtraKeys,
  ExtraKeyValue,
} from "./events/types.ts";
export {
  type BlockHashOptions,
  computeNoneHash,
  DEFAULT_NONE_HASH_SEED,
  ENGINE_HASH_ALGOS,
  type EngineBlockHash,
  EngineBlockHasher,
  type EngineHashAlgo,
  type EngineHashCheck,
  type EngineHasherOptions,
  engineBlockHashes,
  engineDigest,
  eventToHashExtraKeys,
  hashExtraKeys,
  isEngineHashAlgo,
  low64,
  type MmItem,
  type MmKeyStyle,
  type RequestExtraKeyInputs,
  resolveNoneHashSeed,
  type StoredForCheck,
  verifyRootEvent,
  vllmExtraKeys,
} from "./hashing/engine.ts";
export { type PickleValue, PickleWriter, pickleDumps } from "./hashing/pickle.ts";
export {
  REQUEST_KEY_DOMAIN,
  RequestKeyHasher,
  type RequestKeyOptions,
  requestKeyHasher,
  requestKeyRoot,
  requestKeys,
} from "./hashing/request-keys.ts";
export {
  DEFAULT_VLLM_VERSION,
  type LoraKeyForm,
  type MmKeyForm,
  parseVllmVersion,
  type VllmRules,
  type VllmVersion,
  vllmRules,
} from "./hashing/vllm-version.ts";
export {
  type ChatMessage,
  type ChatMessagesLike,
  type ChatRequest,
  chatRequestFromBody,
  chatRequestFromProto,
  continueFinal,
  templateMessages,
} from "./tokenizer/chat.ts";
export {
  directoryFiles,
  hfCacheSnapshot,
  hfHubCacheDir,
  qwen3PackageFiles,
  TOKENIZER_PACKAGE,
  type TokenizerFiles,
} from "./tokenizer/files.ts";
export {
  formatTokenizerSource,
  NoTokenizerError,
  parseTokenizerSource,
  parseTokenizerSourceMap,
  type ResolvedTokenizer,
  sourcesFor,
  TokenizerLoader,
  type TokenizerSource,
  type TokenizerSourceMap,
} from "./tokenizer/sources.ts";
export {
  type CacheWarmth,
  type ChatTemplateOptions,
  ChatTokenizer,
  loadTokenizer,
  type PrefixCacheOptions,
  type PrefixCacheStats,
} from "./tokenizer/tokenizer.ts";
