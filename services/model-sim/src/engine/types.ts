/** A block hash: the full engine digest (chains to the next block) and its 64-bit wire form. */
export interface BlockHash {
  readonly digest: Uint8Array;
  /** Low 64 bits of the digest read big-endian: what vLLM publishes in KV events by default. */
  readonly ext: bigint;
}

/**
 * vLLM's block hash function: hash(parent digest or NONE_HASH, block tokens, extra keys).
 * `extraKeys` is null for plain text, `[loraName]` for a LoRA request.
 */
export type BlockHasher = (
  parent: Uint8Array | null,
  tokens: readonly number[],
  extraKeys: readonly unknown[] | null,
) => BlockHash;

export interface LoraRef {
  readonly name: string;
  /** vLLM's int adapter id (lora_int_id), deprecated in events but still sent. */
  readonly id: number;
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
