/**
 * Approximate prefix index built from the scorer's own routing decisions (GAIE's "routing history"
 * index): for each pod an LRU of block hashes it was sent, and for each hash the set of pods. Used for
 * servers that publish no KV events, and as the fallback when kv-index cannot be reached.
 * Each scorer replica has its own copy: precise (kv-index) matching is the active-active path.
 */
export class ApproxPrefixIndex {
  private readonly podsByHash = new Map<number, Set<string>>();
  /** Per pod, hashes in least- to most-recently-used order (Map keeps insertion order). */
  private readonly lru = new Map<string, Map<number, true>>();
  private readonly capacityPerPod: number;

  constructor(capacityPerPod: number) {
    this.capacityPerPod = capacityPerPod;
  }

  /** Records that `pod` was sent a request with these block hashes (it will cache them). */
  record(pod: string, hashes: readonly number[]): void {
    let mine = this.lru.get(pod);
    if (!mine) {
      mine = new Map();
      this.lru.set(pod, mine);
    }
    for (const h of hashes) {
      if (mine.has(h)) mine.delete(h);
      mine.set(h, true);
      let pods = this.podsByHash.get(h);
      if (!pods) {
        pods = new Set();
        this.podsByHash.set(h, pods);
      }
      pods.add(pod);
    }
    while (mine.size > this.capacityPerPod) {
      const oldest = mine.keys().next().value as number;
      mine.delete(oldest);
      this.forget(oldest, pod);
    }
  }

  /**
   * Longest run of leading blocks each candidate pod holds. Walks the blocks once, dropping pods as
   * they stop matching, so the cost is blocks + pods rather than their product.
   */
  match(hashes: readonly number[], candidates?: ReadonlySet<string>): Map<string, number> {
    const out = new Map<string, number>();
    let alive: Set<string> | undefined;
    for (let i = 0; i < hashes.length; i++) {
      const pods = this.podsByHash.get(hashes[i]!);
      if (!pods) {
        if (alive) for (const p of alive) out.set(p, i);
        return out;
      }
      if (!alive) {
        alive = new Set();
        for (const p of pods) if (!candidates || candidates.has(p)) alive.add(p);
      } else {
        for (const p of alive) {
          if (!pods.has(p)) {
            out.set(p, i);
            alive.delete(p);
          }
        }
      }
      if (alive.size === 0) return out;
    }
    if (alive) for (const p of alive) out.set(p, hashes.length);
    return out;
  }

  removePod(pod: string): void {
    const mine = this.lru.get(pod);
    if (!mine) return;
    for (const h of mine.keys()) this.forget(h, pod);
    this.lru.delete(pod);
  }

  size(pod: string): number {
    return this.lru.get(pod)?.size ?? 0;
  }

  private forget(hash: number, pod: string): void {
    const pods = this.podsByHash.get(hash);
    if (!pods) return;
    pods.delete(pod);
    if (pods.size === 0) this.podsByHash.delete(hash);
  }
}
