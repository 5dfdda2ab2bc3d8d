/**
 * The gateway's own approximate prefix view, used when it must route without the scorer (a pick
 * past its deadline, or an unreachable scorer under FailOpen). The gateway has no tokenizer, so
 * a prompt is cut into fixed-size character chunks with a chained hash (chunk i's key depends
 * on every chunk before it, as vLLM's block hashes do); each route the gateway takes records
 * the chosen pod against those keys. A later prompt sharing a prefix finds the pods that were
 * sent it. Pure: no I/O.
 */
import type { PromptForPick } from "./openai-body.ts";

/** Characters per chunk: about 32 tokens of English text, two vLLM blocks of 16. */
export const CHUNK_CHARS = 128;
/** Keys computed per prompt at most (32k characters); longer prompts match on their start. */
export const MAX_CHUNKS = 256;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Chained FNV-1a keys of the prompt's full chunks (a partial last chunk is not cached either).
 * Keys keep 30 of the hash's 32 bits so they are small integers to V8 (Smis): map lookups and
 * stores need no heap number per key.
 */
export function chunkKeys(prompt: PromptForPick): number[] {
  const keys: number[] = [];
  if (prompt.case === "tokens") {
    // Token ids: 32 ids per chunk, hashed over their 32-bit values.
    let h = FNV_OFFSET;
    const ids = prompt.ids;
    const per = CHUNK_CHARS / 4;
    for (let c = 0; (c + 1) * per <= ids.length && keys.length < MAX_CHUNKS; c++) {
      for (let i = c * per; i < (c + 1) * per; i++) h = Math.imul(h ^ (ids[i]! >>> 0), FNV_PRIME);
      keys.push(h >>> 2);
    }
    return keys;
  }
  const text =
    prompt.case === "text"
      ? prompt.text
      : prompt.messages.map((m) => `\u0001${m.role}\u0002${m.content}`).join("");
  let h = FNV_OFFSET;
  for (let c = 0; (c + 1) * CHUNK_CHARS <= text.length && keys.length < MAX_CHUNKS; c++) {
    for (let i = c * CHUNK_CHARS; i < (c + 1) * CHUNK_CHARS; i++)
      h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
    keys.push(h >>> 2);
  }
  return keys;
}

/**
 * Per model: for each pod an LRU of the chunk keys it was sent, and for each key the pods.
 * Memory is bounded by `capacityPerPod` keys per (model, pod); past it the least recently sent
 * keys are forgotten first (the model server would have evicted them first too).
 */
export class LocalPrefixView {
  readonly #capacityPerPod: number;
  readonly #models = new Map<string, ModelView>();

  constructor(capacityPerPod: number) {
    this.#capacityPerPod = capacityPerPod;
  }

  record(model: string, pod: string, keys: readonly number[]): void {
    if (keys.length === 0) return;
    let view = this.#models.get(model);
    if (view === undefined) {
      view = new ModelView();
      this.#models.set(model, view);
    }
    view.record(pod, keys, this.#capacityPerPod);
  }

  /** For each pod holding chunk 0, how many leading chunks it was sent. */
  match(model: string, keys: readonly number[]): Map<string, number> {
    return this.#models.get(model)?.match(keys) ?? new Map();
  }

  /** Keys held for a pod (for tests and metrics). */
  size(model: string, pod: string): number {
    return this.#models.get(model)?.size(pod) ?? 0;
  }
}

class ModelView {
  readonly #pods = new Map<number, Set<string>>();
  readonly #lru = new Map<string, KeyLru>();

  record(pod: string, keys: readonly number[], capacity: number): void {
    let mine = this.#lru.get(pod);
    if (mine === undefined) {
      mine = new KeyLru();
      this.#lru.set(pod, mine);
    }
    for (const k of keys) {
      if (!mine.touch(k)) continue;
      let pods = this.#pods.get(k);
      if (pods === undefined) {
        pods = new Set();
        this.#pods.set(k, pods);
      }
      pods.add(pod);
    }
    mine.evict(capacity, (oldest) => {
      const pods = this.#pods.get(oldest);
      pods?.delete(pod);
      if (pods?.size === 0) this.#pods.delete(oldest);
    });
  }

  match(keys: readonly number[]): Map<string, number> {
    const out = new Map<string, number>();
    let alive: Set<string> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const pods = this.#pods.get(keys[i]!);
      if (pods === undefined) break;
      if (alive === undefined) alive = new Set(pods);
      else {
        for (const p of alive) {
          if (!pods.has(p)) {
            out.set(p, i);
            alive.delete(p);
          }
        }
      }
      if (alive.size === 0) return out;
      for (const p of alive) out.set(p, i + 1);
    }
    return out;
  }

  size(pod: string): number {
    return this.#lru.get(pod)?.size ?? 0;
  }
}

/**
 * The keys sent to one pod, least recently sent first. Each request records ~200 keys and, once
 * full, evicts as many: a Map used as the LRU (delete + set to refresh, evict from
 * `keys().next()`) leaves the deleted entries at the front of V8's hash table until it rehashes,
 * and every eviction's iterator walks over them (measured ~3 ms of CPU per 24k-character prompt
 * at 16k keys). Here each mention is appended to a queue with its sequence number, the map holds
 * each key's latest sequence number, and eviction pops the queue, skipping mentions that a later
 * one superseded. The queue is compacted once it holds more than twice the live keys.
 */
export class KeyLru {
  /** key -> sequence number of its latest mention. */
  readonly #latest = new Map<number, number>();
  #queue: number[] = [];
  /** Sequence number of `#queue[#head]`. */
  #headSeq = 0;
  #head = 0;

  get size(): number {
    return this.#latest.size;
  }

  /** Marks `key` the most recently sent; true when it was not held. */
  touch(key: number): boolean {
    const seq = this.#headSeq + this.#queue.length - this.#head;
    const isNew = !this.#latest.has(key);
    this.#latest.set(key, seq);
    this.#queue.push(key);
    return isNew;
  }

  /** Forgets the least recently sent keys past `capacity`, each handed to `onEvict`. */
  evict(capacity: number, onEvict: (key: number) => void): void {
    while (this.#latest.size > capacity) {
      const key = this.#queue[this.#head]!;
      const seq = this.#headSeq;
      this.#head++;
      this.#headSeq++;
      if (this.#latest.get(key) === seq) {
        this.#latest.delete(key);
        onEvict(key);
      }
    }
    const live = this.#queue.length - this.#head;
    if (live > 2 * this.#latest.size + 1024) this.#compact();
    else if (this.#head > 4096 && this.#head > live) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Keeps only each key's latest mention, in order (sequence numbers restart at 0). */
  #compact(): void {
    const kept: number[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const key = this.#queue[i]!;
      if (this.#latest.get(key) === this.#headSeq + i - this.#head) {
        this.#latest.set(key, kept.length);
        kept.push(key);
      }
    }
    this.#queue = kept;
    this.#head = 0;
    this.#headSeq = 0;
  }

  /** Held keys, least recently sent first (for tests). */
  keys(): number[] {
    const out: number[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const key = this.#queue[i]!;
      if (this.#latest.get(key) === this.#headSeq + i - this.#head) out.push(key);
    }
    return out;
  }
}

/**
 * Orders candidates for a local pick, "sticky until saturated" as the scorer's default policy:
 * the endpoint with the longest remembered prefix first, unless it has more than `loadSlack`
 * requests in flight above the least-loaded candidate (then load decides); equal candidates
 * share the traffic through a rotating tie-break.
 */
export function localOrder<E extends { pod: string }>(
  eps: readonly E[],
  matched: ReadonlyMap<string, number>,
  inFlight: (pod: string) => number,
  tieBreak: number,
  loadSlack: number,
): E[] {
  const n = eps.length;
  if (n === 0) return [];
  const rows = eps.map((ep, i) => ({
    ep,
    load: inFlight(ep.pod),
    hit: matched.get(ep.pod) ?? 0,
    rank: (((i - tieBreak) % n) + n) % n,
  }));
  let minLoad = Number.POSITIVE_INFINITY;
  for (const r of rows) minLoad = Math.min(minLoad, r.load);
  // A saturated holder of the prefix counts as holding nothing: the request goes by load.
  for (const r of rows) if (r.load - minLoad > loadSlack) r.hit = 0;
  rows.sort((a, b) => b.hit - a.hit || a.load - b.load || a.rank - b.rank);
  return rows.map((r) => r.ep);
}
