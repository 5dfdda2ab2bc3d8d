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

/** Chained FNV-1a keys of the prompt's full chunks (a partial last chunk is not cached either). */
export function chunkKeys(prompt: PromptForPick): number[] {
  const keys: number[] = [];
  if (prompt.case === "tokens") {
    // Token ids: 32 ids per chunk, hashed over their 32-bit values.
    let h = FNV_OFFSET;
    const ids = prompt.ids;
    const per = CHUNK_CHARS / 4;
    for (let c = 0; (c + 1) * per <= ids.length && keys.length < MAX_CHUNKS; c++) {
      for (let i = c * per; i < (c + 1) * per; i++) h = Math.imul(h ^ (ids[i]! >>> 0), FNV_PRIME);
      keys.push(h >>> 0);
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
    keys.push(h >>> 0);
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
  readonly #lru = new Map<string, Map<number, true>>();

  record(pod: string, keys: readonly number[], capacity: number): void {
    let mine = this.#lru.get(pod);
    if (mine === undefined) {
      mine = new Map();
      this.#lru.set(pod, mine);
    }
    for (const k of keys) {
      mine.delete(k);
      mine.set(k, true);
      let pods = this.#pods.get(k);
      if (pods === undefined) {
        pods = new Set();
        this.#pods.set(k, pods);
      }
      pods.add(pod);
    }
    while (mine.size > capacity) {
      const oldest = mine.keys().next().value as number;
      mine.delete(oldest);
      const pods = this.#pods.get(oldest);
      pods?.delete(pod);
      if (pods?.size === 0) this.#pods.delete(oldest);
    }
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
