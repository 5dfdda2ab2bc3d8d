import { xxh3 } from "@node-rs/xxhash";
import { encodeCanonicalCbor } from "../cbor/canonical.ts";
import type { ExtraKeys } from "../events/types.ts";
import { type RequestExtraKeyInputs, vllmExtraKeys } from "./engine.ts";
import type { VllmRules } from "./vllm-version.ts";

/**
 * inferd request keys (DESIGN §4, the dual-key design): inferd's own chained 64-bit block keys,
 * independent of the engine's hash algorithm and PYTHONHASHSEED. Exact definition (README):
 *
 *   root(model) = XXH3_64(seed 0, utf8("inferd.request-key.v1\n" + model))
 *   key_i       = XXH3_64(seed 0, le64(key_{i-1} or root(model)) || le32(n) || le32(t_0) .. le32(t_{n-1})
 *                                 || (extra_i === None ? "" : canonical_cbor(extra_i)))
 *
 * where t are the n token ids of block i (full blocks only) and extra_i is the vLLM extra-keys
 * tuple of that block (LoRA name on every block, cache salt on block 0, MM identifiers), the same
 * tuple vLLM puts in `BlockStored.extra_keys`. The token count makes the byte string
 * unambiguous. XXH3-64 is xxhash's `XXH3_64bits` (Python: `xxhash.xxh3_64_intdigest`).
 */
export const REQUEST_KEY_DOMAIN = "inferd.request-key.v1\n";

const utf8 = new TextEncoder();

/** The chain root of a model (the "parent" of its first block). */
export function requestKeyRoot(model: string): bigint {
  return xxh3.xxh64(utf8.encode(REQUEST_KEY_DOMAIN + model));
}

export interface RequestKeyOptions extends RequestExtraKeyInputs {
  readonly blockSize: number;
  /** Key of the block before `tokens[0]`; default the model root. */
  readonly parentKey?: bigint | null;
  /** Position of `tokens[0]` in the request (for cache-salt and MM placement); default 0. */
  readonly startTokenIndex?: number;
  /**
   * Per-block extra keys to use as they are (e.g. `BlockStored.extra_keys` of an event) instead of
   * deriving them from loraName / cacheSalt / mmItems.
   */
  readonly extraKeys?: readonly ExtraKeys[] | null;
  /** vLLM version rules for derived extra keys (default: current vLLM). */
  readonly rules?: VllmRules;
}

/** Computes request keys for one model. Reuse an instance: it keeps its scratch buffer. */
export class RequestKeyHasher {
  readonly model: string;
  readonly root: bigint;
  private buf = new Uint8Array(8 + 4 + 4 * 64 + 64);
  private view = new DataView(this.buf.buffer);
  private lastExtra: ExtraKeys = null;
  private lastExtraBytes: Uint8Array | null = null;

  constructor(model: string) {
    this.model = model;
    this.root = requestKeyRoot(model);
  }

  private extraBytes(extra: ExtraKeys): Uint8Array | null {
    if (extra === null) return null;
    if (extra === this.lastExtra && this.lastExtraBytes) return this.lastExtraBytes;
    const bytes = encodeCanonicalCbor(extra);
    this.lastExtra = extra;
    this.lastExtraBytes = bytes;
    return bytes;
  }

  /** One block's key from its parent key (null = model root). */
  next(parent: bigint | null, tokens: ArrayLike<number>, extra: ExtraKeys = null): bigint {
    return this.nextRange(parent, tokens, 0, tokens.length, extra);
  }

  /** `next` over tokens[start, start + n) without copying them out. */
  private nextRange(
    parent: bigint | null,
    tokens: ArrayLike<number>,
    start: number,
    n: number,
    extra: ExtraKeys,
  ): bigint {
    const extraBytes = this.extraBytes(extra);
    const size = 12 + 4 * n + (extraBytes?.length ?? 0);
    if (size > this.buf.length) {
      this.buf = new Uint8Array(size * 2);
      this.view = new DataView(this.buf.buffer);
    }
    const view = this.view;
    view.setBigUint64(0, parent ?? this.root, true);
    view.setUint32(8, n, true);
    let p = 12;
    for (let i = start; i < start + n; i++, p += 4) {
      const t = tokens[i]!;
      if (!(t >= 0 && t <= 0xffffffff) || !Number.isInteger(t))
        throw new RangeError(`token id ${t} at ${i} is not a uint32`);
      view.setUint32(p, t, true);
    }
    if (extraBytes) {
      this.buf.set(extraBytes, p);
      p += extraBytes.length;
    }
    return xxh3.xxh64(this.buf.subarray(0, p));
  }

  /** Keys of every full block of `tokens` (partial tail ignored). */
  keys(tokens: ArrayLike<number>, options: RequestKeyOptions): bigint[] {
    const { blockSize } = options;
    if (!Number.isInteger(blockSize) || blockSize <= 0)
      throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
    const n = Math.floor(tokens.length / blockSize);
    const out = new Array<bigint>(n);
    const base = options.startTokenIndex ?? 0;
    const given = options.extraKeys ?? null;
    // Plain-text requests (the common case) need no per-block extra keys at all.
    const derive = !!(options.loraName || options.cacheSalt || options.mmItems?.length);
    let loraOnly: ExtraKeys = null;
    const byId = options.rules?.loraKey === "id"; // vLLM 0.11 keyed LoRA blocks by the int id
    if (derive && !byId && !options.cacheSalt && !options.mmItems?.length) loraOnly = [options.loraName!];
    let parent = options.parentKey ?? null;
    for (let i = 0; i < n; i++) {
      const s = i * blockSize;
      let extra: ExtraKeys = null;
      if (given) extra = given[i] ?? null;
      else if (loraOnly) extra = loraOnly;
      else if (derive) extra = vllmExtraKeys(base + s, base + s + blockSize, options, options.rules);
      parent = this.nextRange(parent, tokens, s, blockSize, extra);
      out[i] = parent;
    }
    return out;
  }
}

const hashers = new Map<string, RequestKeyHasher>();

/** Cached per-model hasher (bounded: models are few). */
export function requestKeyHasher(model: string): RequestKeyHasher {
  let h = hashers.get(model);
  if (!h) {
    if (hashers.size >= 1024) hashers.clear();
    h = new RequestKeyHasher(model);
    hashers.set(model, h);
  }
  return h;
}

/** One-shot form of RequestKeyHasher#keys. */
export function requestKeys(model: string, tokens: ArrayLike<number>, options: RequestKeyOptions): bigint[] {
  return requestKeyHasher(model).keys(tokens, options);
}
