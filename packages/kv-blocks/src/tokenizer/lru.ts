/** A size-bounded LRU map (Map keeps insertion order; a hit re-inserts the entry at the end). */
export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V; size: number }>();
  private total = 0;
  readonly maxSize: number;
  private readonly sizeOf: (value: V, key: K) => number;

  constructor(maxSize: number, sizeOf: (value: V, key: K) => number = () => 1) {
    this.maxSize = maxSize;
    this.sizeOf = sizeOf;
  }

  get size(): number {
    return this.map.size;
  }

  /** Sum of the sizes of the entries held. */
  get weight(): number {
    return this.total;
  }

  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  set(key: K, value: V): void {
    const size = this.sizeOf(value, key);
    if (size > this.maxSize) return; // would evict everything and still not fit
    const old = this.map.get(key);
    if (old) {
      this.total -= old.size;
      this.map.delete(key);
    }
    this.map.set(key, { value, size });
    this.total += size;
    for (const [k, e] of this.map) {
      if (this.total <= this.maxSize) break;
      this.map.delete(k);
      this.total -= e.size;
    }
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }
}
