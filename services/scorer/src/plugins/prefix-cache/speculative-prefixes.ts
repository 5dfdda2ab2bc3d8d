/**
 * Prompts just routed, per pod, kept for `ttlMs`: what a server is about to cache but has not announced
 * yet. Between a pick and the server's KV events (the prefill, then the event path) the precise index
 * does not know the prompt, so the next request of the same group, arriving meanwhile, would start a
 * second cold prefill elsewhere. llm-d's `speculativeIndexing` with `speculativeTTL`.
 *
 * Kept as the prompts' token ids, not block hashes, so nothing is hashed: a match is the longest
 * common token prefix, compared directly. Prompts are bucketed by their first `bucketTokens` tokens
 * and a bucket keeps only the newest prompt per pod, so a match compares at most one prompt per pod
 * whatever the pick rate (a prompt's group is what the first tokens tell apart; a newer prompt of
 * the same bucket on the same pod shares at least those tokens with the one it replaces).
 */
export class SpeculativePrefixes {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #bucketTokens: number;
  /** bucket key -> pod -> newest entry. */
  readonly #buckets = new Map<string, Map<string, Entry>>();
  /** Every entry in recording order (= expiry order: one TTL), replaced ones included. */
  #fifo: Entry[] = [];
  #head = 0;
  #live = 0;

  constructor(opts: { ttlMs: number; maxEntries?: number; bucketTokens?: number }) {
    this.#ttlMs = opts.ttlMs;
    this.#maxEntries = opts.maxEntries ?? 4096;
    this.#bucketTokens = opts.bucketTokens ?? 64;
  }

  /** Live prompts (after expiring the old ones at `nowMs`). */
  size(nowMs: number): number {
    this.#expire(nowMs);
    return this.#live;
  }

  /** `scope` separates what cannot share blocks (model, LoRA, cache salt). Tokens are copied. */
  record(pod: string, scope: string, tokens: ArrayLike<number>, nowMs: number): void {
    if (this.#ttlMs <= 0 || tokens.length === 0) return;
    this.#expire(nowMs);
    const key = this.#key(scope, tokens);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = new Map();
      this.#buckets.set(key, bucket);
    }
    const entry: Entry = {
      pod,
      key,
      tokens: Uint32Array.from(tokens),
      expiresAtMs: nowMs + this.#ttlMs,
      live: true,
    };
    const replaced = bucket.get(pod);
    if (replaced) {
      replaced.live = false;
      this.#live--;
    }
    bucket.set(pod, entry);
    this.#fifo.push(entry);
    this.#live++;
    // Full: the oldest prompts go first (they would expire first anyway).
    while (this.#live > this.#maxEntries) this.#drop(this.#fifo[this.#head++]!);
  }

  /** Per pod (among `candidates`, all when undefined): the longest prefix of `tokens` it was sent. */
  match(
    scope: string,
    tokens: ArrayLike<number>,
    candidates: ReadonlySet<string> | undefined,
    nowMs: number,
  ): Map<string, number> {
    const best = new Map<string, number>();
    if (tokens.length === 0) return best;
    this.#expire(nowMs);
    const bucket = this.#buckets.get(this.#key(scope, tokens));
    if (bucket === undefined) return best;
    for (const [pod, e] of bucket) {
      if (candidates !== undefined && !candidates.has(pod)) continue;
      best.set(pod, commonPrefix(e.tokens, tokens));
    }
    return best;
  }

  #key(scope: string, tokens: ArrayLike<number>): string {
    let key = scope;
    const n = Math.min(tokens.length, this.#bucketTokens);
    for (let i = 0; i < n; i++) key += `,${tokens[i]}`;
    return key;
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
  readonly tokens: Uint32Array;
  readonly expiresAtMs: number;
  live: boolean;
}

function commonPrefix(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
