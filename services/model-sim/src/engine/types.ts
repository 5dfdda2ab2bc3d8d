import type { ExtraKeys } from "@inferd/kv-blocks";

/** A block hash: the full engine digest (chains to the next block) and its 64-bit wire form. */
export interface BlockHash {
  readonly digest: Uint8Array;
  /** Low 64 bits of the digest read big-endian: what vLLM publishes in KV events by default. */
  readonly ext: bigint;
  /** The block's extra keys as vLLM publishes them in BlockStored.extra_keys (untagged). */
  readonly extraKeys: ExtraKeys;
}

/** What besides the tokens goes into a block's hash (vLLM generate_block_hash_extra_keys). */
export interface BlockKeyInputs {
  /** Token range of the block in the request. */
  readonly start: number;
  readonly end: number;
  readonly lora: LoraRef | null;
  /** vLLM `cache_salt` (first block only). */
  readonly cacheSalt: string | null;
}

/** vLLM's block hash function: hash(parent digest or NONE_HASH, block tokens, extra keys of the version). */
export type BlockHasher = (
  parent: Uint8Array | null,
  tokens: readonly number[],
  keys: BlockKeyInputs,
) => BlockHash;

export interface LoraRef {
  readonly name: string;
  /** vLLM's int adapter id (lora_int_id), deprecated in events but still sent. */
  readonly id: number;
  /** Adapter path (lora_path): part of the block hash since vLLM 0.31. */
  readonly path?: string;
}

/**
 * KV-cache events as vLLM's BlockPool queues them (medium "GPU", one group). Hashes carry the digest too,
 * so the publisher can send either the uint64 form (default) or raw bytes.
 */
export type KvCacheEvent =
  | {
      readonly type: "BlockStored";
      readonly blockHashes: readonly BlockHash[];
      readonly parentBlockHash: BlockHash | null;
      readonly tokenIds: readonly number[];
      readonly blockSize: number;
      readonly loraId: number | null;
      readonly loraName: string | null;
      readonly medium: "GPU";
    }
  | { readonly type: "BlockRemoved"; readonly blockHashes: readonly BlockHash[]; readonly medium: "GPU" }
  | { readonly type: "AllBlocksCleared" };

export type FinishReason = "stop" | "length" | "abort";
