/**
 * Prompts just routed, per pod, kept for `ttlMs`: what a server is about to cache but has not announced
 * yet. Between a pick and the server's KV events (the prefill, then the event path) the precise index
 * does not know the prompt, so the next request of the same group, arriving meanwhile, would start a
 * second cold prefill elsewhere. llm-d's `speculativeIndexing` with `speculativeTTL`.
 *
 * A prompt is kept as the chained block keys the approximate index uses (`blockHashes`, seeded by
 * model, adapter and cache salt, so prompts that cannot share blocks never match): a match compares a
 * few hundred numbers, not thousands of tokens. Prompts are bucketed by the key of their first
 * `bucketBlocks` blocks (what tells a prompt's group apart), and a bucket keeps the newest
 * prompt of its `podsPerBucket` most recently chosen pods, so a match compares a few prompts whatever
 * the pick rate and the fleet size: the window is short (until the KV events arrive), and the most
 * recent pods are the ones it is about.
 */
export class SpeculativePrefixes {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #bucketBlocks: number;
  readonly #podsPerBucket: number;
  /** bucket key -> pod -> newest entry (insertion order = recency). */
  readonly #buckets = new Map<number, Map<string, Entry>>();
  /** Every entry in recording order (= expiry order: one TTL), replaced ones included. */
  #fifo: Entry[] = [];
  #head = 0;
  #live = 0;

  constructor(opts: {
    ttlMs: number;
    maxEntries?: number;
    bucketBlocks?: number;
    podsPerBucket?: number;
  }) {
    this.#ttlMs = opts.ttlMs;
    this.#maxEntries = opts.maxEntries ?? 4096;
    this.#bucketBlocks = opts.bucketBlocks ?? 4;
    this.#podsPerBucket = opts.podsPerBucket ?? 4;
  }

  /** Live prompts (after expiring the old ones at `nowMs`). */
  size(nowMs: number): number {
    this.#expire(nowMs);
    return this.#live;
  }

  /** `keys`: the prompt's chained block keys (the producer's, computed once per pick). */
  record(pod: string, keys: readonly number[], nowMs: number): void {
    if (this.#ttlMs <= 0 || keys.length === 0) return;
    this.#expire(nowMs);
    const key = this.#bucketKey(keys);
    const old = this.#buckets.get(key);
    if (old !== undefined) {
      const replaced = old.get(pod);
      if (replaced) this.#drop(replaced);
      // Insertion order is recency: past the limit the least recently chosen pod goes.
      if (old.size >= this.#podsPerBucket) this.#drop(old.values().next().value as Entry);
    }
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = new Map();
      this.#buckets.set(key, bucket);
    }
    const entry: Entry = { pod, key, keys, expiresAtMs: nowMs + this.#ttlMs, live: true };
    bucket.set(pod, entry);
    this.#fifo.push(entry);
    this.#live++;
    // Full: the oldest prompts go first (they would expire first anyway).
    while (this.#live > this.#maxEntries) this.#drop(this.#fifo[this.#head++]!);
  }

  /** Per pod (among `candidates`, all when undefined): how many leading blocks of the prompt it was sent. */
  match(
    keys: readonly number[],
    candidates: ReadonlySet<string> | undefined,
    nowMs: number,
  ): Map<string, number> {
    const best = new Map<string, number>();
    this.#expire(nowMs);
    if (keys.length === 0) return best;
    const bucket = this.#buckets.get(this.#bucketKey(keys));
    if (bucket === undefined) return best;
    for (const [pod, e] of bucket) {
      if (candidates !== undefined && !candidates.has(pod)) continue;
      best.set(pod, commonPrefix(e.keys, keys));
    }
    return best;
  }

  #bucketKey(keys: readonly number[]): number {
    return keys[Math.min(this.#bucketBlocks, keys.length) - 1]!;
  }

  #expire(nowMs: number): void {
    const fifo = this.#fifo;
    while (this.#head < fifo.length && fifo[this.#head]!.expiresAtMs <= nowMs)
      this.#drop(fifo[this.#head++]!);
    // Drop the consumed head once it is most of the array (amortised O(1) per entry).
    if (this.#head > 64 && this.#head * 2 > fifo.length) {
      this.#fifo = fifo.slice(this.#head);
      this.#head = 0;
    }
  }

  #drop(e: Entry): void {
    if (!e.live) return;
    e.live = false;
    this.#live--;
    const bucket = this.#buckets.get(e.key);
    if (bucket?.get(e.pod) === e) {
      bucket.delete(e.pod);
      if (bucket.size === 0) this.#buckets.delete(e.key);
    }
  }
}

interface Entry {
  readonly pod: string;
  readonly key: number;
  readonly keys: readonly number[];
  readonly expiresAtMs: number;
  live: boolean;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
