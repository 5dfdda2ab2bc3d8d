import type { BlockHash, KvCacheEvent } from "./types.ts";

const NIL = -1;

/**
 * vLLM v1 BlockPool: fixed physical blocks with ref counts, a hash -> blocks map of cached full blocks,
 * and a doubly-linked free queue ordered for LRU eviction. Block 0 is vLLM's reserved null block, so
 * `numGpuBlocks - 1` blocks are usable. Freed blocks go to the tail; allocation pops the head and, if the
 * block still holds a cached hash, evicts it (BlockRemoved). Cached blocks with ref count 0 stay in the
 * free queue and can be "touched" back into use by a prefix hit.
 */
export class BlockPool {
  readonly numGpuBlocks: number;
  readonly blockSize: number;
  private readonly refCnt: Int32Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly inFree: Uint8Array;
  private readonly hashes: (BlockHash | null)[];
  private head = NIL;
  private tail = NIL;
  private numFree = 0;
  /** ext hash -> physical blocks holding it (vLLM keeps duplicate copies). */
  private readonly cached = new Map<bigint, number[]>();
  private numCachedBlocks = 0;
  private readonly events: KvCacheEvent[] = [];

  constructor(numGpuBlocks: number, blockSize: number) {
    if (!Number.isInteger(numGpuBlocks) || numGpuBlocks < 2)
      throw new Error("numGpuBlocks must be an integer >= 2");
    if (!Number.isInteger(blockSize) || blockSize < 1)
      throw new Error("blockSize must be a positive integer");
    this.numGpuBlocks = numGpuBlocks;
    this.blockSize = blockSize;
    this.refCnt = new Int32Array(numGpuBlocks);
    this.prev = new Int32Array(numGpuBlocks).fill(NIL);
    this.next = new Int32Array(numGpuBlocks).fill(NIL);
    this.inFree = new Uint8Array(numGpuBlocks);
    this.hashes = new Array<BlockHash | null>(numGpuBlocks).fill(null);
    for (let b = 1; b < numGpuBlocks; b++) this.pushTail(b);
    this.refCnt[0] = 1; // null block, never freed
  }

  /** Usable blocks (excludes the null block). */
  get capacity(): number {
    return this.numGpuBlocks - 1;
  }

  get freeBlocks(): number {
    return this.numFree;
  }

  /** vLLM's kv_cache_usage: 1 - free / usable. */
  usage(): number {
    return 1 - this.numFree / this.capacity;
  }

  refCount(block: number): number {
    return this.refCnt[block]!;
  }

  /** The cached block for `hash`, if any (first copy). */
  lookup(hash: bigint): number | undefined {
    return this.cached.get(hash)?.[0];
  }

  /** Multiset of cached hashes (hash -> number of physical copies). */
  cachedHashes(): Map<bigint, number> {
    const out = new Map<bigint, number>();
    for (const [h, blocks] of this.cached) out.set(h, blocks.length);
    return out;
  }

  get cachedBlockCount(): number {
    return this.numCachedBlocks;
  }

  /** Pops `n` blocks from the LRU head, evicting their cached hashes. Caller checked `freeBlocks`. */
  getNewBlocks(n: number): number[] {
    if (n > this.numFree) throw new Error(`cannot allocate ${n} blocks with ${this.numFree} free`);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const b = this.head;
      this.unlink(b);
      this.maybeEvict(b);
      this.refCnt[b]! += 1;
      out.push(b);
    }
    return out;
  }

  /** Prefix hit: take blocks out of the free queue if idle and add a reference. */
  touch(blocks: readonly number[]): void {
    for (const b of blocks) {
      if (this.refCnt[b] === 0 && this.inFree[b]) this.unlink(b);
      this.refCnt[b]! += 1;
    }
  }

  /** Drops one reference per block, in the given order; blocks reaching 0 join the free-queue tail. */
  free(orderedBlocks: readonly number[]): void {
    for (const b of orderedBlocks) {
      const r = this.refCnt[b]! - 1;
      if (r < 0) throw new Error(`block ${b} freed more often than allocated`);
      this.refCnt[b] = r;
      if (r === 0 && b !== 0) this.pushTail(b);
    }
  }

  /** Registers newly full blocks as cached and queues one BlockStored for them. */
  cacheFullBlocks(
    blocks: readonly number[],
    hashes: readonly BlockHash[],
    parent: BlockHash | null,
    tokenIds: readonly number[],
    lora: { name: string; id: number } | null,
  ): void {
    if (blocks.length === 0) return;
    const stored: BlockHash[] = [];
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i]!;
      const h = hashes[i]!;
      if (this.hashes[b] !== null) throw new Error(`block ${b} is already cached`);
      this.hashes[b] = h;
      const list = this.cached.get(h.ext);
      if (list) list.push(b);
      else this.cached.set(h.ext, [b]);
      this.numCachedBlocks++;
      stored.push(h);
    }
    this.events.push({
      type: "BlockStored",
      blockHashes: stored,
      parentBlockHash: parent,
      tokenIds,
      blockSize: this.blockSize,
      loraId: lora ? lora.id : null,
      loraName: lora ? lora.name : null,
      medium: "GPU",
    });
  }

  /**
   * vLLM reset_prefix_cache: only possible when no block is in use; drops every cached hash and
   * queues AllBlocksCleared. Returns false (and does nothing) while requests hold blocks.
   */
  resetPrefixCache(): boolean {
    if (this.numFree !== this.capacity) return false;
    for (let b = 1; b < this.numGpuBlocks; b++) this.hashes[b] = null;
    this.cached.clear();
    this.numCachedBlocks = 0;
    this.events.push({ type: "AllBlocksCleared" });
    return true;
  }

  /** Events queued since the last drain, in order. */
  drainEvents(): KvCacheEvent[] {
    return this.events.splice(0, this.events.length);
  }

  private maybeEvict(b: number): void {
    const h = this.hashes[b];
    if (!h) return;
    this.hashes[b] = null;
    const list = this.cached.get(h.ext);
    if (list) {
      const i = list.indexOf(b);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.cached.delete(h.ext);
    }
    this.numCachedBlocks--;
    // vLLM emits one BlockRemoved per evicted block.
    this.events.push({ type: "BlockRemoved", blockHashes: [h], medium: "GPU" });
  }

  private pushTail(b: number): void {
    this.prev[b] = this.tail;
    this.next[b] = NIL;
    if (this.tail !== NIL) this.next[this.tail] = b;
    else this.head = b;
    this.tail = b;
    this.inFree[b] = 1;
    this.numFree++;
  }

  private unlink(b: number): void {
    const p = this.prev[b]!;
    const n = this.next[b]!;
    if (p !== NIL) this.next[p] = n;
    else this.head = n;
    if (n !== NIL) this.prev[n] = p;
    else this.tail = p;
    this.prev[b] = NIL;
    this.next[b] = NIL;
    this.inFree[b] = 0;
    this.numFree--;
  }
}
