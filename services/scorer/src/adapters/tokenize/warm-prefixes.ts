import { createHash, type Hash } from "node:crypto";
import type { TokenizeJob } from "./job.ts";

/**
 * The chat prefixes (every message but the last, with the request's template options) that the
 * scorer's own thread has tokenised, so its tokenizer's prefix cache holds them: a pick whose prefix
 * is here is tokenised on the event loop (warm: the template and the new last message, well under a
 * millisecond) instead of in the worker thread, saving the two thread wake-ups of the round trip
 * (0.3-0.7 ms at low rates on a busy 2-core machine, measured with test/bench/routing/pick-rtt.ts).
 * Only a guess about cost, never about tokens: both paths run the same tokenizer on the same text.
 * Bounded: the least recently used key goes first.
 */
export class WarmPrefixes {
  readonly #capacity: number;
  readonly #keys = new Map<string, true>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /**
   * The key of a job's prefix, or undefined when a job has none worth remembering (a completions
   * prompt, a chat of one message: nothing is shared with the next request).
   * Every string goes into the hash as it is, behind its length, instead of through JSON.stringify:
   * a prefix is usually one long system message (~36 KB for 6k tokens), and stringifying it cost
   * more than the hash itself (~0.11 against ~0.03 ms per pick).
   */
  static keyOf(model: string, job: TokenizeJob): string | undefined {
    if (job.kind !== "chat") return undefined;
    const { messages, ...options } = job.chat;
    if (messages.length < 2) return undefined;
    const h = createHash("sha1");
    field(h, model);
    for (let i = 0; i < messages.length - 1; i++) message(h, messages[i]);
    // Template options change what the prefix renders to (tools, kwargs): part of the key.
    h.update("o");
    field(h, JSON.stringify(options));
    return h.digest("base64");
  }

  has(key: string): boolean {
    if (!this.#keys.has(key)) return false;
    // Refresh: a Map iterates in insertion order, so the first key is the least recently used.
    this.#keys.delete(key);
    this.#keys.set(key, true);
    return true;
  }

  add(key: string): void {
    this.#keys.delete(key);
    this.#keys.set(key, true);
    while (this.#keys.size > this.#capacity) this.#keys.delete(this.#keys.keys().next().value!);
  }

  delete(key: string): void {
    this.#keys.delete(key);
  }

  get size(): number {
    return this.#keys.size;
  }
}

/** A string behind its length, so that no two sequences of fields hash the same bytes. */
function field(h: Hash, s: string): void {
  h.update(`${s.length}:`);
  h.update(s);
}

/** A message's fields in their own order: strings as they are, anything else as JSON. */
function message(h: Hash, m: unknown): void {
  if (typeof m !== "object" || m === null || Array.isArray(m)) {
    h.update("j");
    field(h, JSON.stringify(m) ?? "undefined");
    return;
  }
  const keys = Object.keys(m);
  h.update(`m${keys.length}:`);
  for (const k of keys) {
    const v = (m as Record<string, unknown>)[k];
    field(h, k);
    if (typeof v === "string") {
      h.update("s");
      field(h, v);
    } else {
      h.update("j");
      field(h, JSON.stringify(v) ?? "undefined");
    }
  }
}
