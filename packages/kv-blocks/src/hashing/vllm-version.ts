/**
 * What changes with the vLLM version: how block hashes are built, which KV-event fields exist and
 * how they are encoded, and the replay frames. Every boundary below was read from vLLM's own code
 * in its published wheels and is pinned by the golden vectors in test/vllm-golden/ (one file per
 * version 0.11 .. 0.34, made by scripts/vllm-golden/). Versions between two listed boundaries
 * behave like the lower one; versions before 0.11 are treated as 0.11, after the newest known as
 * the newest.
 */

/** The vLLM version inferd speaks when nothing says otherwise: current vLLM. */
export const DEFAULT_VLLM_VERSION = "0.34.0";

export interface VllmVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** Parses "0.34", "0.34.0", "v0.34.0", "0.34.0+cu129", "0.35.0rc1.dev12+g1234" (the release part counts). */
export function parseVllmVersion(text: string): VllmVersion {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!m) throw new RangeError(`not a vLLM version: ${JSON.stringify(text)} (expected e.g. 0.34.0)`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

function atLeast(v: VllmVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/** How the LoRA adapter enters the block hash. */
export type LoraKeyForm =
  /** the adapter's int id (`lora_int_id`), vLLM 0.11 */
  | "id"
  /** the adapter name, 0.12 - 0.30 */
  | "name"
  /** `("lora", name, path)`, 0.31+ */
  | "tagged";

/** How a multimodal item enters the block hash. */
export type MmKeyForm =
  /** the bare identifier, <= 0.18 */
  | "identifier"
  /** `(identifier, offset - block_start)`, 0.19 - 0.30 */
  | "identifier_offset"
  /** `("mm", identifier, offset - block_start)`, 0.31+ */
  | "tagged";

export interface VllmRules {
  /** Canonical "major.minor.patch". */
  readonly version: string;
  /** Hash algorithms `--prefix-caching-hash-algo` accepts. */
  readonly algos: readonly string[];
  /**
   * With PYTHONHASHSEED unset: true = sha256/sha256_cbor seed NONE_HASH with the fixed string
   * "vllm-none-hash" (0.29+); xxhash variants (and every algorithm before 0.29) use a random seed.
   */
  readonly fixedDefaultSeed: boolean;
  readonly loraKey: LoraKeyForm;
  readonly mmKey: MmKeyForm;
  /** `("cache_salt", salt)` instead of the bare salt (0.31+). */
  readonly taggedCacheSalt: boolean;
  /** `num_hash_lookahead_tokens` (EAGLE, 0.33+): a block hash may cover the next tokens too. */
  readonly lookahead: boolean;
  /** KV events: positional arrays (<= 0.23) or maps (0.24+). */
  readonly eventForm: "array" | "map";
  /** Declared fields of BlockStored / BlockRemoved, in wire order (array form carries them all). */
  readonly blockStoredFields: readonly string[];
  readonly blockRemovedFields: readonly string[];
  /** Replay replies carry the topic frame (0.26+): `[topic, seq, payload]`, end `["", 0xff*8, ""]`. */
  readonly replayTopicFrame: boolean;
}

// Declared fields in wire order; each version declares a prefix of these lists (golden vectors).
const STORED_FIELDS = [
  "block_hashes",
  "parent_block_hash",
  "token_ids",
  "block_size",
  "lora_id",
  "medium",
  "lora_name", // 0.14
  "extra_keys", // 0.17
  "group_idx", // 0.20
  "kv_cache_spec_kind", // 0.22
  "kv_cache_spec_sliding_window", // 0.22
  "locality", // 0.26
  "ownership", // 0.29
  "session_id", // 0.30
  "lookahead_token_ids", // 0.33
];
const REMOVED_FIELDS = ["block_hashes", "medium", "group_idx", "locality", "ownership"];

function storedFieldCount(v: VllmVersion): number {
  if (atLeast(v, 0, 33)) return 15;
  if (atLeast(v, 0, 30)) return 14;
  if (atLeast(v, 0, 29)) return 13;
  if (atLeast(v, 0, 26)) return 12;
  if (atLeast(v, 0, 22)) return 11;
  if (atLeast(v, 0, 20)) return 9;
  if (atLeast(v, 0, 17)) return 8;
  if (atLeast(v, 0, 14)) return 7;
  return 6;
}

function removedFieldCount(v: VllmVersion): number {
  if (atLeast(v, 0, 29)) return 5;
  if (atLeast(v, 0, 26)) return 4;
  if (atLeast(v, 0, 20)) return 3;
  return 2;
}

/** The rules of one vLLM version (a string such as "0.34.0" or a parsed version). */
export function vllmRules(version: string | VllmVersion = DEFAULT_VLLM_VERSION): VllmRules {
  const v = typeof version === "string" ? parseVllmVersion(version) : version;
  return {
    version: `${v.major}.${v.minor}.${v.patch}`,
    algos: atLeast(v, 0, 13) ? ["sha256", "sha256_cbor", "xxhash", "xxhash_cbor"] : ["sha256", "sha256_cbor"],
    fixedDefaultSeed: atLeast(v, 0, 29),
    loraKey: atLeast(v, 0, 31) ? "tagged" : atLeast(v, 0, 12) ? "name" : "id",
    mmKey: atLeast(v, 0, 31) ? "tagged" : atLeast(v, 0, 19) ? "identifier_offset" : "identifier",
    taggedCacheSalt: atLeast(v, 0, 31),
    lookahead: atLeast(v, 0, 33),
    eventForm: atLeast(v, 0, 24) ? "map" : "array",
    blockStoredFields: STORED_FIELDS.slice(0, storedFieldCount(v)),
    blockRemovedFields: REMOVED_FIELDS.slice(0, removedFieldCount(v)),
    replayTopicFrame: atLeast(v, 0, 26),
  };
}
