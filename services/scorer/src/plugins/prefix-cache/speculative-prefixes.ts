/**
 * Prompts just routed, per pod, kept for `ttlMs`: what a server is about to cache but has not announced
 * yet. Between a pick and the server's KV events (the prefill, then the event path) the precise index
 * does not know the prompt, so the next request of the same group, arriving meanwhile, would start a
 * second cold prefill elsewhere. llm-d's `speculativeIndexing` with `speculativeTTL`.
 *
 * Kept as the prompts' token ids, not block hashes: a match is the longest common token prefix,
 * compared directly (most recorded prompts differ within a few tokens), so recording and matching
 * hash nothing. Entries expire in the order they were recorded (one TTL), so a FIFO holds them.
 */
export class SpeculativePrefixes {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  #entries: Entry[] = [];
  #head = 0;

  constructor(opts: { ttlMs: number; maxEntries?: number }) {
    this.#ttlMs = opts.ttlMs;
    this.#maxEntries = opts.maxEntries ?? 4096;
  }

  /** Live entries (after expiring the old ones at `nowMs`). */
  size(nowMs: number): number {
    this.#expire(nowMs);
    return this.#entries.length - this.#head;
  }

  /** `scope` separates what cannot share blocks (model, LoRA, cache salt). Tokens are copied. */
  record(pod: string, scope: string, tokens: ArrayLike<number>, nowMs: number): void {
    if (this.#ttlMs <= 0 || tokens.length === 0) return;
    this.#expire(nowMs);
    // Full: the oldest entry goes first (it would expire first anyway).
    if (this.#entries.length - this.#head >= this.#maxEntries) this.#head++;
    this.#entries.push({ pod, scope, tokens: Uint32Array.from(tokens), expiresAtMs: nowMs + this.#ttlMs });
  }

  /** Per pod (among `candidates`, all when undefined): the longest prefix of `tokens` it was sent. */
  match(
    scope: string,
    tokens: ArrayLike<number>,
    candidates: ReadonlySet<string> | undefined,
    nowMs: number,
  ): Map<string, number> {
    this.#expire(nowMs);
    const best = new Map<string, number>();
    for (let i = this.#head; i < this.#entries.length; i++) {
      const e = this.#entries[i]!;
      if (e.scope !== scope || (candidates !== undefined && !candidates.has(e.pod))) continue;
      const n = commonPrefix(e.tokens, tokens);
      if (n > (best.get(e.pod) ?? 0)) best.set(e.pod, n);
    }
    return best;
  }

  #expire(nowMs: number): void {
    const entries = this.#entries;
    while (this.#head < entries.length && entries[this.#head]!.expiresAtMs <= nowMs) this.#head++;
    // Drop the expired head once it is most of the array (amortised O(1) per entry).
    if (this.#head > 64 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
  }
}

interface Entry {
  readonly pod: string;
  readonly scope: string;
  readonly tokens: Uint32Array;
  readonly expiresAtMs: number;
}

function commonPrefix(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
