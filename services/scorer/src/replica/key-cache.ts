import { joinHalves, KeyTable, keyHalves, type PackedKeys } from "@inferd/block-index";
import { requestKeyHasher } from "@inferd/kv-blocks";

const NONE = -2;
const ROOT = -1;

/**
 * One generation of remembered blocks for one (model, block size): a trie laid out flat so that
 * walking a cached prefix allocates nothing and touches two places per block. Nodes are numbered;
 * `children` maps (block fingerprint, parent node + 1) to a node, whose record holds its request
 * key's halves, its node in the previous generation and its block's tokens, which confirm the match
 * (the 32-bit fingerprint only finds the candidate).
 */
class Trie {
  readonly blockSize: number;
  /** Words per node record: [lo, hi, previous-generation node + 2, parent + 1, …tokens]. */
  readonly stride: number;
  readonly children = new KeyTable();
  records: Uint32Array;
  size = 0;

  constructor(blockSize: number) {
    this.blockSize = blockSize;
    this.stride = 4 + blockSize;
    this.records = new Uint32Array(32 * this.stride);
  }

  /** The child of `parent` holding tokens[start, start + blockSize), or -1. */
  find(parent: number, fp: number, tokens: ArrayLike<number>, start: number): number {
    // A chain cached in one walk got consecutive nodes: try the next one before the table (the child
    // of `parent` with these tokens is unique), which keeps a cached prefix on sequential memory.
    const next = parent + 1;
    if (next > 0 && next < this.size && this.records[next * this.stride + 3] === parent + 1) {
      if (this.#same(next, tokens, start)) return next;
    }
    const node = this.children.get(fp, parent + 1);
    return node >= 0 && this.#same(node, tokens, start) ? node : -1;
  }

  #same(node: number, tokens: ArrayLike<number>, start: number): boolean {
    const bs = this.blockSize;
    const r = this.records;
    for (let j = 0, o = node * this.stride + 4; j < bs; j++) if (r[o + j] !== tokens[start + j]) return false;
    return true;
  }

  lo(node: number): number {
    return this.records[node * this.stride]!;
  }

  hi(node: number): number {
    return this.records[node * this.stride + 1]!;
  }

  /** The same block's node in the previous generation, or NONE. */
  prevNode(node: number): number {
    return this.records[node * this.stride + 2]! - 2;
  }

  /** Adds a child; -1 when another block with the same fingerprint holds the place (not cached). */
  add(
    parent: number,
    fp: number,
    tokens: ArrayLike<number>,
    start: number,
    lo: number,
    hi: number,
    prevNode: number,
  ): number {
    if (this.children.get(fp, parent + 1) >= 0) return -1;
    const node = this.size++;
    const o = node * this.stride;
    if (o + this.stride > this.records.length) {
      const grown = new Uint32Array(2 * this.records.length);
      grown.set(this.records);
      this.records = grown;
    }
    const r = this.records;
    r[o] = lo;
    r[o + 1] = hi;
    r[o + 2] = prevNode + 2;
    r[o + 3] = parent + 1;
    for (let j = 0; j < this.blockSize; j++) r[o + 4 + j] = tokens[start + j]!;
    this.children.set(fp, parent + 1, node);
    return node;
  }
}

/**
 * A prompt's request keys, computed on demand block by block in order: `fill(i)` writes key i into
 * `keys` (the index's `lookupPacked` calls it only as far as its walk goes).
 */
export interface LazyKeys {
  readonly keys: PackedKeys;
  fill(i: number): void;
}

/**
 * Request keys of a prompt's blocks, remembered per (model, block size) so that a prompt sharing a
 * prefix with an earlier one hashes only its new blocks (the shared system prompt of a workload is
 * hashed once, not on every pick). Exactly the keys `requestKeyHasher(model).keys` computes (a
 * fingerprint match is confirmed token by token), packed as uint32 halves for the index's
 * `lookupPacked`. For plain prompts only: LoRA and cache-salt prompts derive per-block extra keys
 * and go to the hasher directly.
 *
 * Bounded at `maxBlocks` remembered blocks in two generations: when the current one holds half of
 * them it becomes the previous one and a new one starts; a block found only in the previous
 * generation is copied forward (no hashing), so prefixes in use survive and the rest ages out.
 */
export class RequestKeyCache {
  readonly #half: number;
  #current = new Map<string, Trie>();
  #previous = new Map<string, Trie>();
  #currentBlocks = 0;
  #previousBlocks = 0;

  constructor(maxBlocks = 65_536) {
    this.#half = Math.max(1, Math.floor(maxBlocks / 2));
  }

  /** Blocks remembered (both generations). */
  get size(): number {
    return this.#currentBlocks + this.#previousBlocks;
  }

  /** The keys as bigints (tests, tools). */
  keys(model: string, tokens: ArrayLike<number>, blockSize: number): bigint[] {
    const packed = this.packed(model, tokens, blockSize);
    const out = new Array<bigint>(packed.length / 2);
    for (let i = 0; i < out.length; i++)
      out[i] = (BigInt(packed[2 * i + 1]!) << 32n) | BigInt(packed[2 * i]!);
    return out;
  }

  /** Every key, packed. */
  packed(model: string, tokens: ArrayLike<number>, blockSize: number): PackedKeys {
    const lazy = this.lazy(model, tokens, blockSize);
    for (let i = 0; i < lazy.keys.length / 2; i++) lazy.fill(i);
    return lazy.keys;
  }

  /** Keys computed only as far as `fill` is called (in order from block 0). */
  lazy(model: string, tokens: ArrayLike<number>, blockSize: number): LazyKeys {
    if (this.#currentBlocks >= this.#half) {
      this.#previous = this.#current;
      this.#previousBlocks = this.#currentBlocks;
      this.#current = new Map();
      this.#currentBlocks = 0;
    }
    const id = `${blockSize}:${model}`;
    let cur = this.#current.get(id);
    if (cur === undefined) {
      cur = new Trie(blockSize);
      this.#current.set(id, cur);
    }
    return new PromptKeys(this, cur, this.#previous.get(id), model, tokens);
  }

  /** Counts a block added to the current generation; false when it is full (not added). */
  room(): boolean {
    return this.#currentBlocks < this.#half;
  }

  added(): void {
    this.#currentBlocks++;
  }
}

/** The walk state of one prompt through the cache (see `RequestKeyCache.lazy`). */
class PromptKeys implements LazyKeys {
  readonly keys: PackedKeys;
  readonly #cache: RequestKeyCache;
  readonly #cur: Trie;
  readonly #prev: Trie | undefined;
  readonly #model: string;
  readonly #tokens: ArrayLike<number>;
  /** Parent in the current generation (ROOT, or NONE once this walk left what it can cache). */
  #pc = ROOT;
  /** The same parent in the previous generation (ROOT, or NONE when unknown). */
  #pp: number;

  constructor(
    cache: RequestKeyCache,
    cur: Trie,
    prev: Trie | undefined,
    model: string,
    tokens: ArrayLike<number>,
  ) {
    this.#cache = cache;
    this.#cur = cur;
    this.#prev = prev;
    this.#model = model;
    this.#tokens = tokens;
    this.#pp = prev ? ROOT : NONE;
    this.keys = new Uint32Array(2 * Math.floor(tokens.length / cur.blockSize));
  }

  fill(i: number): void {
    const cur = this.#cur;
    const prev = this.#prev;
    const tokens = this.#tokens;
    const out = this.keys;
    const bs = cur.blockSize;
    const s = i * bs;
    let fp = 0x811c9dc5;
    for (let j = s; j < s + bs; j++) fp = Math.imul(fp ^ tokens[j]!, 0x01000193);
    fp >>>= 0;
    const pc = this.#pc;
    const hit = pc === NONE ? -1 : cur.find(pc, fp, tokens, s);
    if (hit >= 0) {
      out[2 * i] = cur.lo(hit);
      out[2 * i + 1] = cur.hi(hit);
      this.#pp = cur.prevNode(hit);
      this.#pc = hit;
      return;
    }
    let lo: number;
    let hi: number;
    const old = this.#pp !== NONE && prev ? prev.find(this.#pp, fp, tokens, s) : -1;
    if (old >= 0) {
      lo = prev!.lo(old);
      hi = prev!.hi(old);
    } else {
      const block = new Uint32Array(bs);
      for (let j = 0; j < bs; j++) block[j] = tokens[s + j]!;
      const parent = i === 0 ? null : joinHalves(out[2 * i - 2]!, out[2 * i - 1]!);
      [lo, hi] = keyHalves(requestKeyHasher(this.#model).next(parent, block));
    }
    out[2 * i] = lo;
    out[2 * i + 1] = hi;
    this.#pp = old >= 0 ? old : NONE;
    if (pc !== NONE && this.#cache.room()) {
      this.#pc = cur.add(pc, fp, tokens, s, lo, hi, this.#pp);
      if (this.#pc >= 0) this.#cache.added();
      else this.#pc = NONE;
    } else {
      this.#pc = NONE;
    }
  }
}
