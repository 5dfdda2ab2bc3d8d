/**
 * Prompts just routed, per pod, kept for `ttlMs`: what a server is about to cache but has not announced
 * yet. Between a pick and the server's KV events (the prefill, then the event path) the precise index
 * does not know the prompt, so the next request of the same group, arriving meanwhile, would start a
 * second cold prefill elsewhere. llm-d's `speculativeIndexing` with `speculativeTTL`.
 *
 * A prompt is kept as chained 32-bit fingerprints of its `printTokens`-token blocks (FNV-1a over the
 * token ids, carried from block to block, so equal fingerprints at block i mean, but for a 2⁻³²
 * collision, equal prompts up to block i): a match compares a few hundred numbers, not thousands of
 * tokens, and a collision only costs a hint that expires. Prompts are bucketed by the fingerprint of
 * their first `bucketBlocks` blocks (what tells a prompt's group apart), and a bucket keeps the newest
 * prompt of its `podsPerBucket` most recently chosen pods, so a match compares a few prompts whatever
 * the pick rate and the fleet size: the window is short (until the KV events arrive), and the most
 * recent pods are the ones it is about.
 */
export class SpeculativePrefixes {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #printTokens: number;
  readonly #bucketBlocks: number;
  readonly #podsPerBucket: number;
  /** bucket key -> pod -> newest entry (insertion order = recency). */
  readonly #buckets = new Map<string, Map<string, Entry>>();
  /** Every entry in recording order (= expiry order: one TTL), replaced ones included. */
  #fifo: Entry[] = [];
  #head = 0;
  #live = 0;

  constructor(opts: {
    ttlMs: number;
    maxEntries?: number;
    printTokens?: number;
    bucketBlocks?: number;
    podsPerBucket?: number;
  }) {
    this.#ttlMs = opts.ttlMs;
    this.#maxEntries = opts.maxEntries ?? 4096;
    this.#printTokens = opts.printTokens ?? 16;
    this.#bucketBlocks = opts.bucketBlocks ?? 4;
    this.#podsPerBucket = opts.podsPerBucket ?? 4;
  }

  /** Live prompts (after expiring the old ones at `nowMs`). */
  size(nowMs: number): number {
    this.#expire(nowMs);
    return this.#live;
  }

  /**
   * `scope` separates what cannot share blocks (model, LoRA, cache salt); `prints` are the prompt's
   * (`fingerprints`), computed once per pick for `match` and `record`.
   */
  record(pod: string, scope: string, prints: Uint32Array, nowMs: number): void {
    if (this.#ttlMs <= 0 || prints.length === 0) return;
    this.#expire(nowMs);
    const key = this.#key(scope, prints);
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
    const entry: Entry = { pod, key, prints, expiresAtMs: nowMs + this.#ttlMs, live: true };
    bucket.set(pod, entry);
    this.#fifo.push(entry);
    this.#live++;
    // Full: the oldest prompts go first (they would expire first anyway).
    while (this.#live > this.#maxEntries) this.#drop(this.#fifo[this.#head++]!);
  }

  /**
   * Per pod (among `candidates`, all when undefined): how many leading tokens of the prompt it was sent,
   * in whole `printTokens` blocks.
   */
  match(
    scope: string,
    prints: Uint32Array,
    candidates: ReadonlySet<string> | undefined,
    nowMs: number,
  ): Map<string, number> {
    const best = new Map<string, number>();
    this.#expire(nowMs);
    if (prints.length === 0) return best;
    const bucket = this.#buckets.get(this.#key(scope, prints));
    if (bucket === undefined) return best;
    for (const [pod, e] of bucket) {
      if (candidates !== undefined && !candidates.has(pod)) continue;
      best.set(pod, commonPrefix(e.prints, prints) * this.#printTokens);
    }
    return best;
  }

  /** Whether anything is live: a pick need not fingerprint its prompt otherwise. */
  empty(nowMs: number): boolean {
    return this.size(nowMs) === 0;
  }

  /** The prompt's chained block fingerprints. */
  fingerprints(tokens: ArrayLike<number>): Uint32Array {
    const size = this.#printTokens;
    const prints = new Uint32Array(Math.floor(tokens.length / size));
    let h = 0x811c9dc5;
    for (let b = 0; b < prints.length; b++) {
      for (let i = b * size, end = i + size; i < end; i++) h = Math.imul(h ^ tokens[i]!, 0x01000193);
      prints[b] = h >>> 0;
    }
    return prints;
  }

  #key(scope: string, prints: Uint32Array): string {
    return `${scope}\u0000${prints[Math.min(this.#bucketBlocks, prints.length) - 1]}`;
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
  readonly key: string;
  readonly prints: Uint32Array;
  readonly expiresAtMs: number;
  live: boolean;
}

function commonPrefix(a: Uint32Array, b: Uint32Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
