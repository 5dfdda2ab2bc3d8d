import { KeyTable, keyHalves, type PackedKeys } from "@inferd/block-index";
import { requestKeyHasher } from "@inferd/kv-blocks";

const NONE = -2;
const ROOT = -1;

/**
 * One generation of remembered blocks for one (model, block size): a trie laid out flat so that
 * walking a cached prefix allocates nothing and touches a few typed arrays per block. Nodes are
 * numbered; `children` maps (block fingerprint, parent node + 1) to a node, whose block tokens
 * confirm the match (the 32-bit fingerprint only finds the candidate).
 */
class Trie {
  readonly blockSize: number;
  readonly children = new KeyTable();
  /** node -> [lo, hi] of its request key. */
  halves = new Uint32Array(64);
  /** node -> its request key (the parent of the next block when that one must be hashed). */
  readonly keys: bigint[] = [];
  /** node -> the same block's node in the previous generation, or NONE. */
  prevNode = new Int32Array(32);
  /** node -> its block's tokens. */
  tokens: Uint32Array;
  size = 0;

  constructor(blockSize: number) {
    this.blockSize = blockSize;
    this.tokens = new Uint32Array(32 * blockSize);
  }

  /** The child of `parent` holding tokens[start, start + blockSize), or -1. */
  find(parent: number, fp: number, tokens: ArrayLike<number>, start: number): number {
    const node = this.children.get(fp, parent + 1);
    if (node < 0) return -1;
    const bs = this.blockSize;
    const own = this.tokens;
    for (let j = 0, o = node * bs; j < bs; j++) if (own[o + j] !== tokens[start + j]) return -1;
    return node;
  }

  /** Adds a child; -1 when another block with the same fingerprint holds the place (not cached). */
  add(
    parent: number,
    fp: number,
    tokens: ArrayLike<number>,
    start: number,
    key: bigint,
    lo: number,
    hi: number,
    prevNode: number,
  ): number {
    if (this.children.get(fp, parent + 1) >= 0) return -1;
    const node = this.size++;
    const bs = this.blockSize;
    if (node >= this.prevNode.length) {
      this.halves = grow(this.halves, 4 * node);
      this.prevNode = grow(this.prevNode, 2 * node);
      this.tokens = grow(this.tokens, 2 * node * bs);
    }
    for (let j = 0, o = node * bs; j < bs; j++) this.tokens[o + j] = tokens[start + j]!;
    this.halves[2 * node] = lo;
    this.halves[2 * node + 1] = hi;
    this.keys[node] = key;
    this.prevNode[node] = prevNode;
    this.children.set(fp, parent + 1, node);
    return node;
  }
}

function grow<T extends Uint32Array | Int32Array>(a: T, n: number): T {
  const out = new (a.constructor as new (n: number) => T)(n);
  out.set(a);
  return out;
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
  #scratch = new Uint32Array(16);

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

  packed(model: string, tokens: ArrayLike<number>, blockSize: number): PackedKeys {
    const n = Math.floor(tokens.length / blockSize);
    const out = new Uint32Array(2 * n);
    if (n === 0) return out;
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
    const prev = this.#previous.get(id);
    if (this.#scratch.length !== blockSize) this.#scratch = new Uint32Array(blockSize);
    const hasher = requestKeyHasher(model);
    /** Parent in the current generation (ROOT, or NONE once this walk left what it can cache). */
    let pc = ROOT;
    /** The same parent in the previous generation (ROOT, or NONE when unknown). */
    let pp = prev ? ROOT : NONE;
    let parentKey: bigint | null = null;
    for (let i = 0; i < n; i++) {
      const s = i * blockSize;
      let fp = 0x811c9dc5;
      for (let j = s; j < s + blockSize; j++) fp = Math.imul(fp ^ tokens[j]!, 0x01000193);
      fp >>>= 0;
      const hit = pc === NONE ? -1 : cur.find(pc, fp, tokens, s);
      if (hit >= 0) {
        out[2 * i] = cur.halves[2 * hit]!;
        out[2 * i + 1] = cur.halves[2 * hit + 1]!;
        parentKey = cur.keys[hit]!;
        pp = cur.prevNode[hit]!;
        pc = hit;
        continue;
      }
      let key: bigint;
      let lo: number;
      let hi: number;
      const old = pp !== NONE && prev ? prev.find(pp, fp, tokens, s) : -1;
      if (old >= 0) {
        key = prev!.keys[old]!;
        lo = prev!.halves[2 * old]!;
        hi = prev!.halves[2 * old + 1]!;
      } else {
        const block = this.#scratch;
        for (let j = 0; j < blockSize; j++) block[j] = tokens[s + j]!;
        key = hasher.next(parentKey, block);
        [lo, hi] = keyHalves(key);
      }
      out[2 * i] = lo;
      out[2 * i + 1] = hi;
      parentKey = key;
      pp = old >= 0 ? old : NONE;
      if (pc !== NONE && this.#currentBlocks < this.#half) {
        pc = cur.add(pc, fp, tokens, s, key, lo, hi, pp);
        if (pc >= 0) this.#currentBlocks++;
        else pc = NONE;
      } else {
        pc = NONE;
      }
    }
    return out;
  }
}
