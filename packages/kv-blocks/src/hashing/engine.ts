import { createHash, randomBytes } from "node:crypto";
import { xxh3 } from "@node-rs/xxhash";
import { CborWriter } from "../cbor/canonical.ts";
import { type MsgpackValue, MsgpackWriter } from "../events/msgpack-writer.ts";
import type { ExtraKeys, ExtraKeyValue } from "../events/types.ts";
import { PickleWriter } from "./pickle.ts";
import { type VllmRules, vllmRules } from "./vllm-version.ts";

/**
 * vLLM v1 prefix-cache block hashes, reproduced exactly (reference §2; vllm/utils/hashing.py and
 * vllm/v1/core/kv_cache_utils.py, checked against vLLM's own code per version by the golden
 * vectors in test/vllm-golden/):
 *
 *   sha256(x)      = SHA-256(pickle.dumps(x, protocol=5))                  vLLM's default
 *   xxhash(x)      = xxhash.xxh3_128_digest(pickle.dumps(x, protocol=5))
 *   sha256_cbor(x) = SHA-256(cbor2.dumps(x, canonical=True))              32-byte digest
 *   xxhash_cbor(x) = xxhash.xxh3_128_digest(cbor2.dumps(x, canonical=True)) 16-byte digest
 *                    (XXH3-128, seed 0, canonical big-endian: high 64 bits then low 64 bits)
 *   NONE_HASH      = hash_fn(PYTHONHASHSEED as a *string*); when unset: hash_fn("vllm-none-hash")
 *                    for sha256/sha256_cbor since vLLM 0.29, otherwise random per process
 *   h_i            = hash_fn((h_{i-1} or NONE_HASH, tuple(block_tokens_i), extra_keys_i or None))
 *   event hash     = int.from_bytes(h_i, "big") & (2**64 - 1)  = last 8 digest bytes, big-endian
 *
 * Only full blocks are hashed. What goes into extra_keys depends on the version (vllm-version.ts).
 *
 * `sha256_msgpack` / `xxhash_msgpack` serialise with msgspec's msgpack instead of CBOR. They were
 * seen in one stored vllm/utils/hashing.py of unknown provenance (reference §2.1) and in no
 * published wheel 0.11 - 0.34: offered for completeness, pinned against Python msgspec.
 */
export type EngineHashAlgo =
  | "sha256"
  | "sha256_cbor"
  | "xxhash"
  | "xxhash_cbor"
  | "sha256_msgpack"
  | "xxhash_msgpack";
export const ENGINE_HASH_ALGOS: readonly EngineHashAlgo[] = [
  "sha256",
  "sha256_cbor",
  "xxhash",
  "xxhash_cbor",
  "sha256_msgpack",
  "xxhash_msgpack",
];

const isMsgpack = (algo: EngineHashAlgo) => algo === "sha256_msgpack" || algo === "xxhash_msgpack";
const isPickle = (algo: EngineHashAlgo) => algo === "sha256" || algo === "xxhash";

export function isEngineHashAlgo(name: string): name is EngineHashAlgo {
  return (ENGINE_HASH_ALGOS as readonly string[]).includes(name);
}

/** One block's engine hash: the full digest (the chain's parent) and its uint64 event form. */
export interface EngineBlockHash {
  readonly digest: Uint8Array;
  readonly hash: bigint;
}

/** The digest function of an algorithm, over already-serialised bytes. */
export function engineDigest(algo: EngineHashAlgo, bytes: Uint8Array): Uint8Array {
  if (algo === "sha256" || algo === "sha256_cbor" || algo === "sha256_msgpack") {
    const d = createHash("sha256").update(bytes).digest();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  if (algo === "xxhash" || algo === "xxhash_cbor" || algo === "xxhash_msgpack") {
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

/** vLLM >= 0.29's seed for sha256/sha256_cbor when PYTHONHASHSEED is unset. */
export const DEFAULT_NONE_HASH_SEED = "vllm-none-hash";

/**
 * The seed string vLLM derives NONE_HASH from: PYTHONHASHSEED when set; otherwise
 * "vllm-none-hash" for sha256/sha256_cbor on vLLM >= 0.29, and null (random, nobody else can
 * reproduce the hashes) for the xxhash variants and for every algorithm before 0.29.
 */
export function resolveNoneHashSeed(
  algo: EngineHashAlgo,
  seed: string | null | undefined,
  rules: VllmRules = vllmRules(),
): string | null {
  if (seed !== null && seed !== undefined) return seed;
  if (rules.fixedDefaultSeed && (algo === "sha256" || algo === "sha256_cbor")) return DEFAULT_NONE_HASH_SEED;
  return null;
}

/** vLLM's NONE_HASH for a PYTHONHASHSEED (null/undefined = unset, resolved as `rules` say). */
export function computeNoneHash(
  algo: EngineHashAlgo,
  seed: string | null | undefined,
  rules: VllmRules = vllmRules(),
): Uint8Array {
  const resolved = resolveNoneHashSeed(algo, seed, rules);
  if (resolved === null) return new Uint8Array(randomBytes(32));
  if (isMsgpack(algo)) return engineDigest(algo, new MsgpackWriter().write(resolved).written());
  if (isPickle(algo)) return engineDigest(algo, new PickleWriter().dumps(resolved));
  const w = new CborWriter(16 + resolved.length * 3);
  w.text(resolved);
  return engineDigest(algo, w.written());
}

/** A multimodal item of the prompt, at token positions [offset, offset + length). */
export interface MmItem {
  readonly identifier: string;
  readonly offset: number;
  readonly length: number;
}

/** How MM items appear in the *published* (event) extra keys: bare identifier or `(identifier, offset)`. */
export type MmKeyStyle = "identifier" | "identifier_offset";

export interface RequestExtraKeyInputs {
  /** LoRA adapter *name*: in the extra keys of every block. */
  readonly loraName?: string | null;
  /** LoRA adapter path (`lora_path`): part of the hash since vLLM 0.31 (not of the events). */
  readonly loraPath?: string | null;
  /** LoRA int id (`lora_int_id`): what vLLM 0.11 hashed instead of the name. */
  readonly loraId?: number | null;
  /** vLLM `cache_salt`: added to the first block only (the chain carries it on). Empty = none. */
  readonly cacheSalt?: string | null;
  /** Multimodal items sorted by offset. */
  readonly mmItems?: readonly MmItem[];
  /** Overrides the version's MM form in event extra keys (for emulating a specific engine). */
  readonly mmKeyStyle?: MmKeyStyle;
}

type KeyPart = "lora" | "mm" | "salt";
type TaggedKey = readonly [KeyPart, ExtraKeyValue[]];

/** vLLM `generate_block_hash_extra_keys` order: lora, mm items overlapping [start, end), salt (block 0). */
function extraKeyParts(
  start: number,
  end: number,
  inputs: RequestExtraKeyInputs,
  rules: VllmRules,
): TaggedKey[] {
  const parts: TaggedKey[] = [];
  if (inputs.loraName || (rules.loraKey === "id" && inputs.loraId)) {
    parts.push(["lora", [inputs.loraName ?? null, inputs.loraPath ?? null, inputs.loraId ?? null]]);
  }
  for (const mm of inputs.mmItems ?? []) {
    if (end <= mm.offset) break; // sorted: no later item can overlap either
    if (start >= mm.offset + mm.length) continue;
    parts.push(["mm", [mm.identifier, mm.offset - start]]);
    if (end < mm.offset + mm.length) break; // this block is done with MM items
  }
  if (start === 0 && inputs.cacheSalt) parts.push(["salt", [inputs.cacheSalt]]);
  return parts;
}

/**
 * The extra keys vLLM puts into the *hash* of the block [start, end) for `rules`' version:
 * 0.31+ tags each value (`("lora", name, path)`, `("mm", id, offset)`, `("cache_salt", salt)`);
 * before, bare values (LoRA int id in 0.11, then its name; MM identifier, from 0.19 with its
 * offset). Null when the block has none.
 */
export function hashExtraKeys(
  start: number,
  end: number,
  inputs: RequestExtraKeyInputs,
  rules: VllmRules = vllmRules(),
): ExtraKeys {
  const keys: ExtraKeyValue[] = [];
  for (const [part, v] of extraKeyParts(start, end, inputs, rules)) {
    if (part === "lora") {
      if (rules.loraKey === "tagged") keys.push(["lora", v[0]!, v[1]!]);
      else keys.push(rules.loraKey === "id" ? v[2]! : v[0]!);
    } else if (part === "mm") {
      const style = inputs.mmKeyStyle ?? rules.mmKey;
      if (rules.mmKey === "tagged") keys.push(["mm", v[0]!, v[1]!]);
      else keys.push(style === "identifier_offset" ? [v[0]!, v[1]!] : v[0]!);
    } else {
      keys.push(rules.taggedCacheSalt ? ["cache_salt", v[0]!] : v[0]!);
    }
  }
  return keys.length === 0 ? null : keys;
}

/**
 * The extra keys vLLM *publishes* in `BlockStored.extra_keys` for the block [start, end): the
 * untagged values (vLLM's `to_event_extra_keys` since 0.31; identical to the hash keys before):
 * LoRA name (int id in 0.11), MM identifier or `(identifier, offset)`, the salt on block 0.
 * inferd request keys are built from this form, so an event's extra keys pass straight through.
 */
export function vllmExtraKeys(
  start: number,
  end: number,
  inputs: RequestExtraKeyInputs,
  rules: VllmRules = vllmRules(),
): ExtraKeys {
  const keys: ExtraKeyValue[] = [];
  const mmStyle = inputs.mmKeyStyle ?? (rules.mmKey === "identifier" ? "identifier" : "identifier_offset");
  for (const [part, v] of extraKeyParts(start, end, inputs, rules)) {
    if (part === "lora") keys.push(rules.loraKey === "id" ? v[2]! : v[0]!);
    else if (part === "mm") keys.push(mmStyle === "identifier_offset" ? [v[0]!, v[1]!] : v[0]!);
    else keys.push(v[0]!);
  }
  return keys.length === 0 ? null : keys;
}

export interface EngineHasherOptions {
  readonly algo: EngineHashAlgo;
  /** PYTHONHASHSEED of the engine; null/absent = unset (resolved as the version does). */
  readonly seed?: string | null;
  /** Use this NONE_HASH instead of deriving it from `seed`. */
  readonly noneHash?: Uint8Array;
  /** The engine's vLLM version (default: current vLLM, DEFAULT_VLLM_VERSION). */
  readonly vllmVersion?: string;
}

export interface BlockHashOptions extends RequestExtraKeyInputs {
  readonly blockSize: number;
  /** Digest of the block before `tokens[0]` (null = chain root). */
  readonly parentDigest?: Uint8Array | null;
  /** Position of `tokens[0]` in the request (for cache-salt and MM placement); default 0. */
  readonly startTokenIndex?: number;
  /**
   * vLLM `num_hash_lookahead_tokens` (EAGLE, 0.33+): each block hash also covers the next L
   * tokens (extra keys become `(E, *next_tokens)`), so a block is hashed only once they exist.
   */
  readonly lookaheadTokens?: number;
}

/** Computes vLLM block hashes for one algorithm and NONE_HASH. Reuse one instance: it keeps a scratch buffer. */
export class EngineBlockHasher {
  readonly algo: EngineHashAlgo;
  readonly noneHash: Uint8Array;
  /** The version's hashing rules (extra-key forms, default seed, lookahead). */
  readonly rules: VllmRules;
  private readonly w = new CborWriter(256);
  private readonly mp: MsgpackWriter | null;
  private readonly pk: PickleWriter | null;

  constructor(options: EngineHasherOptions) {
    if (!isEngineHashAlgo(options.algo)) {
      throw new RangeError(
        `unsupported engine hash algorithm ${JSON.stringify(options.algo)} (use ${ENGINE_HASH_ALGOS.join(" or ")})`,
      );
    }
    this.algo = options.algo;
    this.rules = vllmRules(options.vllmVersion);
    this.mp = isMsgpack(options.algo) ? new MsgpackWriter() : null;
    this.pk = isPickle(options.algo) ? new PickleWriter() : null;
    this.noneHash = options.noneHash ?? computeNoneHash(options.algo, options.seed, this.rules);
  }

  /** The extra keys of the block [start, end) as this version hashes them. */
  extraKeys(start: number, end: number, inputs: RequestExtraKeyInputs): ExtraKeys {
    return hashExtraKeys(start, end, inputs, this.rules);
  }

  /** vLLM `hash_block_tokens`: one block from its parent digest (null or empty = NONE_HASH). */
  hashNextBlock(
    parentDigest: Uint8Array | null,
    tokens: ArrayLike<number>,
    extraKeys: ExtraKeys = null,
  ): EngineBlockHash {
    const parent = parentDigest && parentDigest.length > 0 ? parentDigest : this.noneHash;
    if (this.mp !== null) return this.hashNextBlockMsgpack(this.mp, parent, tokens, extraKeys);
    if (this.pk !== null) {
      checkTokens(tokens);
      const digest = engineDigest(this.algo, this.pk.dumps([parent, tokens, extraKeys]));
      return { digest, hash: low64(digest) };
    }
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

  /**
   * Hashes every full block of `tokens` (the partial tail is ignored, as in vLLM; with lookahead
   * tokens, a block is hashed only once its next L tokens exist).
   */
  blockHashes(tokens: ArrayLike<number>, options: BlockHashOptions): EngineBlockHash[] {
    const { blockSize } = options;
    if (!Number.isInteger(blockSize) || blockSize <= 0)
      throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
    const lookahead = options.lookaheadTokens ?? 0;
    if (lookahead > 0 && !this.rules.lookahead)
      throw new RangeError(`vLLM ${this.rules.version} has no lookahead block hashing (0.33+)`);
    const base = options.startTokenIndex ?? 0;
    const n = Math.max(0, Math.floor((tokens.length - lookahead) / blockSize));
    const out = new Array<EngineBlockHash>(n);
    const slice = (s: number, e: number) =>
      "subarray" in tokens
        ? (tokens as Uint32Array).subarray(s, e)
        : Array.prototype.slice.call(tokens, s, e);
    let parent = options.parentDigest ?? null;
    for (let i = 0; i < n; i++) {
      const s = i * blockSize;
      const e = s + blockSize;
      const block = slice(s, e) as ArrayLike<number>;
      let extra: ExtraKeys;
      if (lookahead > 0) {
        // vLLM: extra keys over the block and its lookahead window, then the lookahead tokens.
        const window = this.extraKeys(base + s, base + e + lookahead, options);
        extra = [window, ...Array.from(slice(e, e + lookahead) as ArrayLike<number>)];
      } else {
        extra = this.extraKeys(base + s, base + e, options);
      }
      const h = this.hashNextBlock(parent, block, extra);
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
  /** vLLM 0.33+: the tokens after each block that its hash also covers (EAGLE lookahead). */
  readonly lookaheadTokenIds?: readonly (readonly number[])[] | null;
}

/**
 * One block's published (untagged) extra keys -> the keys vLLM hashed, for `rules`' version.
 * Since 0.31 each value is tagged: the LoRA name becomes `("lora", name, path)` (the path is not
 * in the event: pass it, or get null = cannot be rebuilt), `(id, offset)` pairs `("mm", id,
 * offset)`, strings `("cache_salt", s)`, bytes `("prompt_embeds", digest)`. Before 0.31 the
 * published keys are the hashed keys.
 */
export function eventToHashExtraKeys(
  keys: ExtraKeys,
  lora: { readonly name?: string | null; readonly path?: string | null },
  rules: VllmRules = vllmRules(),
): ExtraKeys | undefined {
  if (keys === null || rules.loraKey !== "tagged") return keys;
  const out: ExtraKeyValue[] = [];
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (i === 0 && lora.name && k === lora.name) {
      if (lora.path === null || lora.path === undefined) return undefined;
      out.push(["lora", k, lora.path]);
    } else if (Array.isArray(k)) out.push(["mm", ...(k as ExtraKeyValue[])]);
    else if (typeof k === "string") out.push(["cache_salt", k]);
    else if (k instanceof Uint8Array) out.push(["prompt_embeds", k]);
    else out.push(k);
  }
  return out;
}

/**
 * Self-check of the engine-hash configuration (reference §5: "compare a probe request's event
 * hashes with local computation"): recomputes a chain-root BlockStored event (no parent) with
 * `hasher` and compares with the event's hashes. Extra keys come from the event's `extra_keys`
 * when present, otherwise from its `lora_name`.
 */
export function verifyRootEvent(
  event: StoredForCheck,
  hasher: EngineBlockHasher,
  loraPath?: string | null,
): EngineHashCheck {
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
    const published =
      event.extraKeys && event.extraKeys.length > 0
        ? (event.extraKeys[i] ?? null)
        : vllmExtraKeys(start, start + blockSize, { loraName: event.loraName ?? null }, hasher.rules);
    let extra = eventToHashExtraKeys(published, { name: event.loraName, path: loraPath }, hasher.rules);
    if (extra === undefined) {
      return {
        result: "unverifiable",
        reason: `LoRA ${event.loraName}: its path (part of the hash since vLLM 0.31) is unknown`,
      };
    }
    const lookahead = event.lookaheadTokenIds?.[i];
    if (lookahead && lookahead.length > 0) extra = [extra, ...lookahead];
    const tokens = Array.prototype.slice.call(event.tokenIds, start, start + blockSize) as number[];
    const h = hasher.hashNextBlock(parent, tokens, extra);
    if (h.hash !== event.blockHashes[i]) {
      return { result: "mismatch", block: i, expected: event.blockHashes[i]!, computed: h.hash };
    }
    parent = h.digest;
  }
  return { result: "match" };
}

function checkTokens(tokens: ArrayLike<number>): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!Number.isInteger(t) || t < 0 || t > 0xffffffff)
      throw new RangeError(`token id ${t} at ${i} is not a uint32`);
  }
}
