import { requestKeyHasher } from "@inferd/kv-blocks";

interface Node {
  key: bigint;
  /** The block's tokens, compared on a hit: the 32-bit fingerprint only finds the candidate. */
  tokens: Uint32Array;
  children: Map<number, Node> | undefined;
}

/**
 * Request keys of a prompt's blocks, remembered as a trie of blocks per model so that a prompt
 * sharing a prefix with an earlier one hashes only its new blocks (the shared system prompt of
 * a workload is hashed once, not on every pick). Exactly the keys `requestKeyHasher(model).keys`
 * computes (a fingerprint match is confirmed token by token). For plain prompts only: LoRA and
 * cache-salt prompts derive per-block extra keys and go to the hasher directly. Bounded: past
 * `maxBlocks` remembered blocks the trie starts again.
 */
export class RequestKeyCache {
  readonly #maxBlocks: number;
  readonly #roots = new Map<string, Map<number, Node>>();
  #blocks = 0;

  constructor(maxBlocks = 65_536) {
    this.#maxBlocks = maxBlocks;
  }

  get size(): number {
    return this.#blocks;
  }

  keys(model: string, tokens: ArrayLike<number>, blockSize: number): bigint[] {
    const n = Math.floor(tokens.length / blockSize);
    const out = new Array<bigint>(n);
    let level = this.#roots.get(model);
    if (level === undefined) {
      level = new Map();
      this.#roots.set(model, level);
    }
    const hasher = requestKeyHasher(model);
    let parent: bigint | null = null;
    for (let i = 0; i < n; i++) {
      const s = i * blockSize;
      let fp = 0x811c9dc5;
      for (let j = s; j < s + blockSize; j++) fp = Math.imul(fp ^ tokens[j]!, 0x01000193);
      // 30 bits: a small integer, which V8's Map hashes fastest.
      fp &= 0x3fffffff;
      let node: Node | undefined = level?.get(fp);
      if (node !== undefined && !sameTokens(node.tokens, tokens, s)) node = undefined;
      if (node === undefined) {
        const block = new Uint32Array(blockSize);
        for (let j = 0; j < blockSize; j++) block[j] = tokens[s + j]!;
        node = { key: hasher.next(parent, block), tokens: block, children: undefined };
        // A fingerprint collision keeps the first block cached; the other is hashed every time.
        if (level !== undefined && !level.has(fp)) {
          if (this.#blocks >= this.#maxBlocks) {
            this.#roots.clear();
            this.#blocks = 0;
            level = undefined;
          } else {
            level.set(fp, node);
            this.#blocks++;
          }
        }
      }
      out[i] = node.key;
      parent = node.key;
      if (level !== undefined) {
        node.children ??= new Map();
        level = node.children;
      }
    }
    return out;
  }
}

function sameTokens(block: Uint32Array, tokens: ArrayLike<number>, start: number): boolean {
  for (let j = 0; j < block.length; j++) if (block[j] !== tokens[start + j]) return false;
  return true;
}
