import { LRUCache } from "lru-cache";

/**
 * A size-bounded LRU map: the prefix cache's segments and chunks, weighed by their characters.
 *
 * A thin adapter over the `lru-cache` package (its recency list is kept in arrays of indices). Why not a
 * Map in insertion order, re-inserting an entry on a hit, as this was: V8 leaves a deleted Map entry as
 * a hole until the table is rebuilt and iteration walks the holes from the start, so evicting the
 * least recent entry of a full cache walked them on every new segment: a micro-benchmark of a full
 * 16 Mi-character cache (16,700 entries of ~1,000 characters, a set and a get per step, keys made
 * beforehand) took 19-27 µs a step that way and 7.5 µs with lru-cache.
 */
export class LruCache<K extends {}, V extends {}> {
  private readonly lru: LRUCache<K, V>;
  readonly maxSize: number;

  /** `sizeOf` weighs an entry (at least 1); an entry heavier than `maxSize` is not kept (nor the key's older one). */
  constructor(maxSize: number, sizeOf: (value: V, key: K) => number = () => 1) {
    this.maxSize = maxSize;
    // lru-cache wants positive integer sizes.
    this.lru = new LRUCache<K, V>({
      maxSize,
      sizeCalculation: (v, k) => Math.max(1, Math.ceil(sizeOf(v, k))),
    });
  }

  get size(): number {
    return this.lru.size;
  }

  /** Sum of the sizes of the entries held. */
  get weight(): number {
    return this.lru.calculatedSize;
  }

  get(key: K): V | undefined {
    return this.lru.get(key);
  }

  set(key: K, value: V): void {
    this.lru.set(key, value);
  }

  clear(): void {
    this.lru.clear();
  }
}
