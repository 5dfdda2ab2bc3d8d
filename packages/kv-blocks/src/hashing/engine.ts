import { createHash, randomBytes } from "node:crypto";
import { xxh3 } from "@node-rs/xxhash";
import { CborWriter } from "../cbor/canonical.ts";
import { type MsgpackValue, MsgpackWriter } from "../events/msgpack-writer.ts";
import type { ExtraKeys } from "../events/types.ts";

/**
 * vLLM v1 prefix-cache block hashes, reproduced exactly (reference §2; vllm/utils/hashing.py and
 * vllm/v1/core/kv_cache_utils.py):
 *
 *   sha256_cbor(x) = SHA-256(cbor2.dumps(x, canonical=True))              32-byte digest
 *   xxhash_cbor(x) = xxhash.xxh3_128_digest(cbor2.dumps(x, canonical=True)) 16-byte digest
 *                    (XXH3-128, seed 0, canonical big-endian: high 64 bits then low 64 bits)
 *   NONE_HASH      = hash_fn(PYTHONHASHSEED as a *string*), or 32 random bytes when unset
 *   h_i            = hash_fn((h_{i-1} or NONE_HASH, tuple(block_tokens_i), extra_keys_i or None))
 *   event hash     = int.from_bytes(h_i, "big") & (2**64 - 1)  = last 8 digest bytes, big-endian
 *
 * Only full blocks are hashed. The pickle-based `sha256` / `xxhash` algorithms (vLLM's default)
 * cannot be reproduced outside Python and are deliberately not offered.
 *
 * `sha256_msgpack` / `xxhash_msgpack` serialise with msgspec's msgpack instead of CBOR (the token
 * list stays a list, which msgpack writes as the same array). They were seen in one stored
 * vllm/utils/hashing.py of unknown provenance (reference §2.1): offered for completeness,
 * pinned against Python msgspec, UNCONFIRMED upstream.
 */
export type EngineHashAlgo = "sha256_cbor" | "xxhash_cbor" | "sha256_msgpack" | "xxhash_msgpack";
export const ENGINE_HASH_ALGOS: readonly EngineHashAlgo[] = [
  "sha256_cbor",
  "xxhash_cbor",
  "sha256_msgpack",
  "xxhash_msgpack",
];

const isMsgpack = (algo: EngineHashAlgo) => algo === "sha256_msgpack" || algo === "xxhash_msgpack";

export function isEngineHashAlgo(name: string): name is EngineHashAlgo {
  return (ENGINE_HASH_ALGOS as readonly string[]).includes(name);
}

/** One block's engine hash: the full digest (the chain's parent) and its uint64 event form. */
export interface EngineBlockHash {
  readonly digest: Uint8Array;
  readonly hash: bigint;
}

/** The digest function of an algorithm, over already-serialised CBOR bytes. */
export function engineDigest(algo: EngineHashAlgo, bytes: Uint8Array): Uint8Array {
  if (algo === "sha256_cbor" || algo === "sha256_msgpack") {
    const d = createHash("sha256").update(bytes).digest();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  if (algo === "xxhash_cbor" || algo === "xxhash_msgpack") {
    const v = xxh3.xxh128(bytes);
    const out = new Uint8Array(16);
    const view = new DataView(out.buffer);
    view.setBigUint64(0, v >> 64n);
    view.setBigUint64(8, BigInt.asUintN(64, v));
    return out;
  }
  throw new RangeError(
    `unsupported engine hash algorithm ${JSON.stringify(algo)} (use ${ENGINE_HASH_ALGOS.join(" or ")})`,
  );
}

/** The uint64 form vLLM puts in KV events: the last 8 digest bytes read big-endian. */
export function low64(digest: Uint8Array): bigint {
  if (digest.length < 8) {
    let h = 0n;
    for (const b of digest) h = (h << 8n) | BigInt(b);
    return h;
  }
  return new DataView(digest.buffer, digest.byteOffset + digest.length - 8, 8).getBigUint64(0);
}

/**
 * vLLM's NONE_HASH: `hash_fn(seed)` for a PYTHONHASHSEED string (e.g. "0"), or 32 random bytes
 * when the seed is null/undefined, which makes the engine's hashes unreproducible by anyone else.
 */
export function computeNoneHash(algo: EngineHashAlgo, seed: string | null | undefined): Uint8Array {
  if (seed === null || seed === undefined) return new Uint8Array(randomBytes(32));
  if (isMsgpack(algo)) return engineDigest(algo, new MsgpackWriter().write(seed).written());
  const w = new CborWriter(16 + seed.length * 3);
  w.text(seed);
  return engineDigest(algo, w.written());
}

/** A multimodal item of the prompt, at token positions [offset, offset + length). */
export interface MmItem {
  readonly identifier: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * How vLLM writes an MM item into extra keys. Most versions append the bare identifier; some
 * append `(identifier, offset - block_start)` (reference §2.4, UNCONFIRMED which versions).
 */
export type MmKeyStyle = "identifier" | "identifier_offset";

export interface RequestExtraKeyInputs {
  /** LoRA adapter *name* (not the int id): added to every block. */
  readonly loraName?: string | null;
  /** vLLM `cache_salt`: added to the first block only (the chain carries it on). Empty = none. */
  readonly cacheSalt?: string | null;
  /** Multimodal items sorted by offset. */
  readonly mmItems?: readonly MmItem[];
  readonly mmKeyStyle?: MmKeyStyle;
}

/**
 * vLLM `generate_block_hash_extra_keys` for the block [start, end): `lora + mm + cache_salt`
 * in this order, or null when empty. (Prompt-embeds digests are not modelled.)
 */
export function vllmExtraKeys(start: number, end: number, inputs: RequestExtraKeyInputs): ExtraKeys {
  const keys: (string | (string | number)[])[] = [];
  if (inputs.loraName) keys.push(inputs.loraName);
  for (const mm of inputs.mmItems ?? []) {
    if (end <= mm.offset) break; // sorted: no later item can overlap either
    if (start >= mm.offset + mm.length) continue;
    keys.push(inputs.mmKeyStyle === "identifier_offset" ? [mm.identifier, mm.offset - start] : mm.identifier);
  }
  if (start === 0 && inputs.cacheSalt) keys.push(inputs.cacheSalt);
  return keys.length === 0 ? null : keys;
}

export interface EngineHasherOptions {
  readonly algo: EngineHashAlgo;
  /** PYTHONHASHSEED of the engine; null/absent = random NONE_HASH (as vLLM without the env var). */
  readonly seed?: string | null;
  /** Use this NONE_HASH instead of deriving it from `seed`. */
  readonly noneHash?: Uint8Array;
}

export interface BlockHashOptions extends RequestExtraKeyInputs {
  readonly blockSize: number;
  /** Digest of the block before `tokens[0]` (null = chain root). */
  readonly parentDigest?: Uint8Array | null;
  /** Position of `tokens[0]` in the request (for cache-salt and MM placement); default 0. */
  readonly startTokenIndex?: number;
}

/** Computes vLLM block hashes for one algorithm and NONE_HASH. Reuse one instance: it keeps a scratch buffer. */
export class EngineBlockHasher {
  readonly algo: EngineHashAlgo;
  readonly noneHash: Uint8Array;
  private readonly w = new CborWriter(256);
  private readonly mp: MsgpackWriter | null;

  constructor(options: EngineHasherOptions) {
    if (!isEngineHashAlgo(options.algo)) {
      throw new RangeError(
        `unsupported engine hash algorithm ${JSON.stringify(options.algo)} (use ${ENGINE_HASH_ALGOS.join(" or ")})`,
      );
    }
    this.algo = options.algo;
    this.mp = isMsgpack(options.algo) ? new MsgpackWriter() : null;
    this.noneHash = options.noneHash ?? computeNoneHash(options.algo, options.seed);
  }

  /** vLLM `hash_block_tokens`: one block from its parent digest (null or empty = NONE_HASH). */
  hashNextBlock(
    parentDigest: Uint8Array | null,
    tokens: ArrayLike<number>,
    extraKeys: ExtraKeys = null,
  ): EngineBlockHash {
    const parent = parentDigest && parentDigest.length > 0 ? parentDigest : this.noneHash;
    if (this.mp !== null) return this.hashNextBlockMsgpack(this.mp, parent, tokens, extraKeys);
    const w = this.w;
    w.reset();
    w.arrayHeader(3);
    w.byteString(parent);
    w.arrayHeader(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!Number.isInteger(t) || t < 0 || t > 0xffffffff)
        throw new RangeError(`token id ${t} at ${i} is not a uint32`);
      w.uint(t);
    }
    if (extraKeys === null) w.null();
    else w.value(extraKeys);
    const digest = engineDigest(this.algo, w.written());
    return { digest, hash: low64(digest) };
  }

  private hashNextBlockMsgpack(
    w: MsgpackWriter,
    parent: Uint8Array,
    tokens: ArrayLike<number>,
    extraKeys: ExtraKeys,
  ): EngineBlockHash {
    w.reset();
    w.arrayHeader(3);
    w.bin(parent);
    w.arrayHeader(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!Number.isInteger(t) || t < 0 || t > 0xffffffff)
        throw new RangeError(`token id ${t} at ${i} is not a uint32`);
      w.intNumber(t);
    }
    w.write(extraKeys as MsgpackValue);
    const digest = engineDigest(this.algo, w.written());
    return { digest, hash: low64(digest) };
  }

  /** Hashes every full block of `tokens` (the partial tail is ignored, as in vLLM). */
  blockHashes(tokens: ArrayLike<number>, options: BlockHashOptions): EngineBlockHash[] {
    const { blockSize } = options;
    if (!Number.isInteger(blockSize) || blockSize <= 0)
      throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
    const base = options.startTokenIndex ?? 0;
    const n = Math.floor(tokens.length / blockSize);
    const out = new Array<EngineBlockHash>(n);
    const slice = (s: number, e: number) =>
      "subarray" in tokens
        ? (tokens as Uint32Array).subarray(s, e)
        : Array.prototype.slice.call(tokens, s, e);
    let parent = options.parentDigest ?? null;
    for (let i = 0; i < n; i++) {
      const s = i * blockSize;
      const block = slice(s, s + blockSize) as ArrayLike<number>;
      const h = this.hashNextBlock(parent, block, vllmExtraKeys(base + s, base + s + blockSize, options));
      out[i] = h;
      parent = h.digest;
    }
    return out;
  }
}

/** One-shot form of EngineBlockHasher#blockHashes. */
export function engineBlockHashes(
  tokens: ArrayLike<number>,
  options: EngineHasherOptions & BlockHashOptions,
): EngineBlockHash[] {
  return new EngineBlockHasher(options).blockHashes(tokens, options);
}

/** What `verifyRootEvent` found. */
export type EngineHashCheck =
  /** Every block hash of the event equals the local computation. */
  | { readonly result: "match" }
  /** The first block whose hash differs (wrong algorithm, seed, block size or extra keys). */
  | {
      readonly result: "mismatch";
      readonly block: number;
      readonly expected: bigint;
      readonly computed: bigint;
    }
  /** The event cannot be checked: it continues a chain (only the parent's 64-bit hash is known) or carries no tokens. */
  | { readonly result: "unverifiable"; readonly reason: string };

/** The fields of a BlockStored event the check needs (decoded event or protobuf-shaped). */
export interface StoredForCheck {
  readonly blockHashes: readonly bigint[];
  readonly parentBlockHash: bigint | null | undefined;
  readonly tokenIds: ArrayLike<number>;
  readonly blockSize: number | null;
  readonly loraName?: string | null;
  readonly extraKeys?: readonly ExtraKeys[] | null;
}

/**
 * Self-check of the engine-hash configuration (reference §5: "compare a probe request's event
 * hashes with local computation"): recomputes a chain-root BlockStored event (no parent) with
 * `hasher` and compares with the event's hashes. Extra keys come from the event's `extra_keys`
 * when present, otherwise from its `lora_name`.
 */
export function verifyRootEvent(event: StoredForCheck, hasher: EngineBlockHasher): EngineHashCheck {
  if (event.parentBlockHash !== null && event.parentBlockHash !== undefined) {
    return { result: "unverifiable", reason: "the event continues a chain whose parent digest is unknown" };
  }
  const blockSize = event.blockSize ?? 0;
  if (
    blockSize <= 0 ||
    event.tokenIds.length !== blockSize * event.blockHashes.length ||
    event.blockHashes.length === 0
  ) {
    return {
      result: "unverifiable",
      reason: "token_ids do not cover the blocks (placeholder or partial event)",
    };
  }
  let parent: Uint8Array | null = null;
  for (let i = 0; i < event.blockHashes.length; i++) {
    const start = i * blockSize;
    const extra =
      event.extraKeys && event.extraKeys.length > 0
        ? (event.extraKeys[i] ?? null)
        : vllmExtraKeys(start, start + blockSize, { loraName: event.loraName ?? null });
    const tokens = Array.prototype.slice.call(event.tokenIds, start, start + blockSize) as number[];
    const h = hasher.hashNextBlock(parent, tokens, extra);
    if (h.hash !== event.blockHashes[i]) {
      return { result: "mismatch", block: i, expected: event.blockHashes[i]!, computed: h.hash };
    }
    parent = h.digest;
  }
  return { result: "match" };
}
