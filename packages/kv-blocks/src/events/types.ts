/**
 * vLLM KV-cache events as decoded from the ZeroMQ msgpack payload (reference §1.4), normalised:
 * snake_case fields become camelCase, absent fields are `null`, hashes are uint64 `bigint`.
 */

/** One element of a vLLM extra-keys tuple: LoRA name, cache salt, MM identifier, embeds digest... */
export type ExtraKeyValue = null | boolean | number | bigint | string | Uint8Array | readonly ExtraKeyValue[];

/** vLLM's per-block extra-keys tuple (a msgpack array), or null when the block has none. */
export type ExtraKeys = readonly ExtraKeyValue[] | null;

export interface DecodedBlockStored {
  readonly type: "BlockStored";
  /** Engine block hashes as uint64 (low 64 bits of the digest), in chain order. */
  readonly blockHashes: bigint[];
  /** Hash of the block before the first one; null when the chain starts at the root. */
  readonly parentBlockHash: bigint | null;
  /** Token ids of all stored blocks (empty for CPU-offload placeholder events). */
  readonly tokenIds: number[];
  /** Tokens per block; null only if a (malformed, very old) producer left it out. */
  readonly blockSize: number | null;
  readonly loraId: number | null;
  /** "GPU", "CPU", ...; null on vLLM before the field existed (means GPU). */
  readonly medium: string | null;
  readonly loraName: string | null;
  /** One entry per block hash, or null when vLLM did not send the field. */
  readonly extraKeys: ExtraKeys[] | null;
  readonly groupIdx: number | null;
  readonly kvCacheSpecKind: string | null;
  readonly kvCacheSpecSlidingWindow: number | null;
  /** "LOCAL" / "REMOTE" relative to the publisher (vLLM 0.26+); null = unspecified. */
  readonly locality: string | null;
  /**
   * The offloading tier (connector) that owns the block (vLLM 0.29+). Set = the block lives in
   * that connector's storage, not in GPU memory, whatever `medium` says.
   */
  readonly ownership: string | null;
  /** The session whose request stored (or reused) the blocks (vLLM 0.30+). */
  readonly sessionId: string | null;
  /** Per block, the tokens after it that its hash also covers (EAGLE lookahead, vLLM 0.33+). */
  readonly lookaheadTokenIds: number[][] | null;
}

export interface DecodedBlockRemoved {
  readonly type: "BlockRemoved";
  readonly blockHashes: bigint[];
  readonly medium: string | null;
  readonly groupIdx: number | null;
  readonly locality: string | null;
  readonly ownership: string | null;
}

export interface DecodedAllBlocksCleared {
  readonly type: "AllBlocksCleared";
}

/**
 * An event whose tag this decoder does not know (a future vLLM event type). Kept rather than
 * thrown so one new event kind does not make a whole batch unreadable; consumers skip it.
 */
export interface DecodedUnknownEvent {
  readonly type: "Unknown";
  readonly tag: string;
}

export type DecodedEvent =
  | DecodedBlockStored
  | DecodedBlockRemoved
  | DecodedAllBlocksCleared
  | DecodedUnknownEvent;

/** How the events inside a batch were encoded: positional arrays (vLLM <= 0.23) or maps (0.24+). */
export type EventEncoding = "array" | "map";

export interface DecodedBatch {
  /** Engine wall-clock time of the batch, seconds since the Unix epoch. */
  readonly ts: number;
  readonly events: DecodedEvent[];
  /** Null when the producer did not send it (vLLM v0.9.0). */
  readonly dataParallelRank: number | null;
  /** Encoding of the events seen in this batch; null for an empty batch. "mixed" never happens in practice. */
  readonly eventEncoding: EventEncoding | "mixed" | null;
}
