import * as hf from "@huggingface/tokenizers";
import { literalAlternation } from "./literals.ts";
import { spaceCutRule } from "./space-cuts.ts";

/**
 * `encode(text, { add_special_tokens: false }).ids` of a @huggingface/tokenizers BPE tokenizer, with
 * the ids of every pre-token (word) memoised: same ids, much less work per word seen before.
 *
 * Why: a cold 6,000-token prompt of the routing bench (words seen before, text not) spent most of
 * its encode, after the byte-level step (byte-level.ts), on per-token Map work: the BPE model's LRU
 * cache does `has` + `get` + `delete` + `set` per word (a hit re-inserts the entry), every resulting
 * token is looked up in the 151k-entry vocabulary to check it exists, and `Tokenizer.encode` looks
 * every token up twice more (added tokens, vocabulary) to get its id. Here a word seen before costs
 * one `Map.get` that gives its ids.
 *
 * What is the library's: every step that turns text into words: the added tokens and their
 * lstrip/rstrip (the split itself is one regex of the same cut, `quickSplit`), the normaliser, the
 * pre-tokenizer (with `section_index`), and, for a word not memoised yet, its BPE model and its id
 * rule (added token, else vocabulary, else unk). What is ours: the loop that strings them together,
 * written as `Tokenizer.encode_text` does it, the memo, and for SentencePiece-style tokenizers (one
 * "word" per piece) the cut of a long word at the safe points space-cuts.ts proves from the merges,
 * with a memo entry per part and a cache per chunk (`WordChunkCache`). It is exact because the library's BPE `encode` handles each word on its own (its only state
 * is its cache) and, without `add_special_tokens`, the post-processors used here return the tokens
 * unchanged; `fuse_unk` (runs of unknown tokens become one) is applied across words as the library
 * applies it across a word list. `wordMemoEncoder` gives null where that is not known (other models,
 * `remove_space`, lowercasing, another post-processor) or where its result differs from the
 * library's on probe texts.
 */

/** Bounded: at this many words the oldest inserted is dropped (~100 bytes a word). */
export const DEFAULT_WORD_MEMO = 1 << 16;
/** Longer words are not memoised (the library's own BPE cache stops at the same length). */
const MAX_WORD_CHARS = 256;

interface AddedToken {
  readonly id: number;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
}
interface Splitter {
  /** Its trie of added tokens: the root's keys are their first UTF-16 code units. */
  readonly trie: Record<string, unknown>;
  split(text: string): string[];
}
/** What we use of the library's Tokenizer and its parts (fields as in its .d.ts, which NodeNext cannot follow). */
interface HfTokenizer {
  readonly splitter_unnormalized: Splitter;
  readonly splitter_normalized: Splitter;
  readonly added_tokens_map: Map<string, AddedToken>;
  readonly remove_space?: boolean;
  readonly do_lowercase_and_remove_accent?: boolean;
  readonly normalizer: ((text: string) => string) | null;
  readonly pre_tokenizer: ((text: string, options: { section_index: number }) => string[]) | null;
  readonly model: ((words: string[]) => string[]) & {
    readonly fuse_unk: boolean;
    readonly tokens_to_ids: Map<string, number>;
    readonly unk_token_id: number | undefined;
  };
  readonly post_processor: unknown;
}
const lib = hf as unknown as {
  BPE: abstract new () => unknown;
  ByteLevelPostProcessor: abstract new () => unknown;
  TemplateProcessingPostProcessor: abstract new () => unknown;
};

/**
 * `splitter.split` with one native regex instead of its trie walk over every character (a warm
 * SentencePiece-style chat prompt spent ~10% of its time there). The same cut: the trie takes, at
 * the leftmost position where an added token starts, the longest one starting there, and so does
 * `literalAlternation` of the trie's words.
 */
function quickSplit(splitter: Splitter): (text: string) => string[] {
  const words: string[] = [];
  const visit = (node: Record<string, unknown>) => {
    for (const [k, child] of Object.entries(node)) {
      if (k === "end") {
        if (typeof child === "string" && child.length > 0) words.push(child); // the trie never matches ""
      } else visit(child as Record<string, unknown>);
    }
  };
  visit(splitter.trie);
  if (words.length === 0) return (text) => (text.length === 0 ? [] : [text]);
  const re = literalAlternation(words);
  return (text) => {
    const out: string[] = [];
    let start = 0;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m.index > start) out.push(text.slice(start, m.index));
      out.push(m[0]);
      start = re.lastIndex;
    }
    if (start < text.length) out.push(start === 0 ? text : text.slice(start));
    return out;
  };
}

/** Cuts at added tokens and applies their lstrip/rstrip, as `Tokenizer.encode_text` does. */
function splitAdded(t: HfTokenizer, split: (text: string) => string[], text: string): string[] {
  const parts = split(text);
  for (let i = 0; i < parts.length; i++) {
    const added = t.added_tokens_map.get(parts[i]!);
    if (added === undefined) continue;
    if (added.lstrip && i > 0) parts[i - 1] = parts[i - 1]!.trimEnd();
    if (added.rstrip && i < parts.length - 1) parts[i + 1] = parts[i + 1]!.trimStart();
  }
  return parts;
}

/** The ids of a word of several tokens or of unknown ones (`*Unk`: only with `fuse_unk`). */
interface WordEntry {
  readonly ids: number[];
  readonly firstUnk: boolean;
  readonly lastUnk: boolean;
}

/** A memoised word's ids: one number for a one-token word that is not unknown (most), else an entry. */
export type WordIds = number | WordEntry;

/**
 * The word memo (word -> ids; at capacity the oldest inserted is dropped). It also keeps the words
 * memoised since the last `drain`, so another instance of the same tokenizer (another thread) can
 * `prime` its memo with them instead of running the BPE model on each word again.
 *
 * The insertion order is kept in a ring of the words, not asked of the Map: V8 leaves a deleted Map
 * entry as a hole until the table is rebuilt, and `keys().next()` walks every hole from the start,
 * so dropping the oldest that way cost ~45 µs a word once the memo was full (a micro-benchmark at
 * 65,536 words; the ring: one `delete`).
 */
export class WordMemo {
  readonly capacity: number;
  readonly #map = new Map<string, WordIds>();
  /** The memoised words in insertion order, oldest at `#oldest` once the ring is full. */
  #ring: string[] = [];
  #oldest = 0;
  #fresh: [string, WordIds][] = [];

  constructor(capacity: number = DEFAULT_WORD_MEMO) {
    this.capacity = capacity;
  }

  get(word: string): WordIds | undefined {
    return this.#map.get(word);
  }

  set(word: string, ids: WordIds): void {
    this.#put(word, ids);
    this.#fresh.push([word, ids]);
    // Bounded for an instance nobody drains: only the newest `capacity` words are worth handing on.
    if (this.#fresh.length > 2 * this.capacity) this.#fresh = this.#fresh.slice(-this.capacity);
  }

  #put(word: string, ids: WordIds): void {
    if (this.#map.has(word)) {
      this.#map.set(word, ids); // keeps its place in the order, as Map.set does
      return;
    }
    if (this.capacity <= 0) return;
    if (this.#ring.length < this.capacity) this.#ring.push(word);
    else {
      this.#map.delete(this.#ring[this.#oldest]!);
      this.#ring[this.#oldest] = word;
      this.#oldest = (this.#oldest + 1) % this.capacity;
    }
    this.#map.set(word, ids);
  }

  /** Forgets every word (and every word not drained yet). */
  clear(): void {
    this.#map.clear();
    this.#ring = [];
    this.#oldest = 0;
    this.#fresh = [];
  }

  /** The words memoised since the last call, oldest first. */
  drain(): [string, WordIds][] {
    const fresh = this.#fresh;
    this.#fresh = [];
    return fresh.length > this.capacity ? fresh.slice(-this.capacity) : fresh;
  }

  /** Another instance's words (same tokenizer files: a word's ids depend on the word only). */
  prime(entries: Iterable<readonly [string, WordIds]>): void {
    for (const [word, ids] of entries) if (!this.#map.has(word)) this.#put(word, ids);
  }

  get size(): number {
    return this.#map.size;
  }
}

/**
 * Stops the library's own BPE word cache of `tokenizer`'s model and empties it, for a tokenizer whose
 * words go through the word memo first. Why: the memo answers every word seen before, so the
 * library's cache could only answer a word the memo has dropped and the library has not (it holds
 * 10,000 words, the memo 65,536: none in practice), yet a new word cost a `put` in it: at 10,000
 * words that evicts with `keys().next()` on a Map full of deleted entries (V8 keeps them as holes
 * and walks them), ~13 µs a word, ~7 ms of a ~6,000-token prompt of new words (profile of tiny-sp's,
 * the largest single cost). The switch is the library's field `max_length_to_cache` (words shorter
 * than it are cached: none at 0). The ids cannot change: the cache only ever returned what `bpe`
 * computes. Answers whether the model was one (the library's BPE) with that cache.
 */
export function stopLibraryWordCache(tokenizer: hf.Tokenizer): boolean {
  const model = (tokenizer as unknown as { model: unknown }).model;
  if (!(model instanceof lib.BPE)) return false;
  const bpe = model as { max_length_to_cache: number; clear_cache(): void };
  bpe.max_length_to_cache = 0;
  bpe.clear_cache();
  return true;
}

/** A growable output of ids. */
class Ids {
  a = new Uint32Array(1024);
  n = 0;
  push(id: number): void {
    if (this.n === this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = id;
  }
}

/** A chunk of a cut word and its ids, with whether they start and end with an unknown token (fuse_unk). */
export interface ChunkIds {
  readonly ids: Uint32Array;
  readonly firstUnk: boolean;
  readonly lastUnk: boolean;
}

/**
 * The prefix cache inside a SentencePiece-style word (space-cuts.ts): a word of at least
 * `2 * chunkChars` characters is cut into chunks of at least `chunkChars` at its first safe cut past
 * that length, and each chunk's ids are kept by content. The cuts depend only on the text before them,
 * so two pieces sharing a prefix share every chunk before the first difference.
 */
export interface WordChunkCache {
  readonly chunkChars: number;
  get(chunk: string): ChunkIds | undefined;
  set(chunk: string, ids: ChunkIds): void;
}

/** Words shorter than this are memoised whole, not cut (cutting is exact either way). */
const CUT_MIN_CHARS = 64;

/**
 * The memoised encoder for `tokenizer`, or null where it could differ from the library (see above).
 * Where space-cuts.ts proves it, long words (SentencePiece-style pieces) are cut at safe points
 * and each part memoised; with `chunks`, very long ones are also cached chunk by chunk.
 */
export function wordMemoEncoder(
  tokenizer: hf.Tokenizer,
  capacity = DEFAULT_WORD_MEMO,
  chunks: WordChunkCache | null = null,
  memo: WordMemo = new WordMemo(capacity),
): ((text: string) => Uint32Array) | null {
  const t = tokenizer as unknown as HfTokenizer;
  const pp = t.post_processor;
  if (
    !(t.model instanceof lib.BPE) ||
    t.remove_space === true ||
    t.do_lowercase_and_remove_accent === true ||
    !(
      pp === null ||
      pp instanceof lib.ByteLevelPostProcessor ||
      pp instanceof lib.TemplateProcessingPostProcessor
    )
  )
    return null;
  const { model, added_tokens_map: addedMap } = t;
  const splitUnnormalized = quickSplit(t.splitter_unnormalized);
  const splitNormalized = quickSplit(t.splitter_normalized);
  const idOf = (token: string): number =>
    addedMap.get(token)?.id ?? model.tokens_to_ids.get(token) ?? (model.unk_token_id as number);
  // fuse_unk: the library collapses each run of unknown tokens of one model call (a word list) into
  // one. The BPE model only outputs vocabulary tokens or its unk token, so that is, in ids: drop an
  // unknown token that follows one. A word's own run is collapsed by its model call already, so
  // only the first token of a word can follow an unknown one (the last word's last token).
  const fuse = model.fuse_unk;
  const isUnk = (token: string) =>
    (model.tokens_to_ids.get(token) ?? model.unk_token_id) === model.unk_token_id;
  const wordIds = (word: string): WordIds => {
    let ids = memo.get(word);
    if (ids !== undefined) return ids;
    const tokens = model([word]);
    const firstUnk = fuse && tokens.length > 0 && isUnk(tokens[0]!);
    const lastUnk = fuse && tokens.length > 0 && isUnk(tokens[tokens.length - 1]!);
    ids = tokens.length === 1 && !firstUnk ? idOf(tokens[0]!) : { ids: tokens.map(idOf), firstUnk, lastUnk };
    if (word.length < MAX_WORD_CHARS) memo.set(word, ids);
    return ids;
  };
  /** Appends a word's ids after the fuse state `afterUnk` (a run of unknowns open); returns the new state. */
  const pushWord = (out: Ids, word: string, afterUnk: boolean): boolean => {
    const w = wordIds(word);
    if (typeof w === "number") {
      out.push(w);
      return false;
    }
    if (w.ids.length === 0) return afterUnk;
    for (let i = afterUnk && w.firstUnk ? 1 : 0; i < w.ids.length; i++) out.push(w.ids[i]!);
    return w.lastUnk;
  };
  let nextCut = spaceCutRule(tokenizer);
  const build = (cutMin: number, cache: WordChunkCache | null) => {
    /** A word cut at its safe points, each part memoised as a word of its own (fuse_unk carried across). */
    const pushParts = (out: Ids, word: string, afterUnk: boolean): boolean => {
      if (nextCut === null || word.length < cutMin) return pushWord(out, word, afterUnk);
      let start = 0;
      for (let p = nextCut(word, 1); p !== -1; p = nextCut(word, p + 1)) {
        afterUnk = pushWord(out, word.slice(start, p), afterUnk);
        start = p;
      }
      return pushWord(out, start === 0 ? word : word.slice(start), afterUnk);
    };
    const chunk = (text: string): ChunkIds => {
      const part = new Ids();
      const lastUnk = pushParts(part, text, false);
      const ids = part.a.slice(0, part.n);
      return { ids, firstUnk: fuse && ids.length > 0 && ids[0] === model.unk_token_id, lastUnk };
    };
    /** A very long word in cached chunks (WordChunkCache), else in parts. */
    const pushLong = (out: Ids, word: string, afterUnk: boolean): boolean => {
      if (cache === null || nextCut === null || word.length < 2 * cache.chunkChars)
        return pushParts(out, word, afterUnk);
      for (let start = 0; start < word.length; ) {
        const p = nextCut(word, start + cache.chunkChars);
        const end = p === -1 ? word.length : p;
        const text = start === 0 && end === word.length ? word : word.slice(start, end);
        let c = cache.get(text);
        if (c === undefined) {
          c = chunk(text);
          cache.set(text, c);
        }
        if (c.ids.length > 0) {
          for (let i = afterUnk && c.firstUnk ? 1 : 0; i < c.ids.length; i++) out.push(c.ids[i]!);
          afterUnk = c.lastUnk;
        }
        start = end;
      }
      return afterUnk;
    };
    return (text: string): Uint32Array => {
      const out = new Ids();
      const sections = splitAdded(t, splitUnnormalized, text);
      for (let s = 0; s < sections.length; s++) {
        let section = sections[s]!;
        if (section.length === 0) continue;
        const added = addedMap.get(section);
        if (added !== undefined) {
          out.push(added.id);
          continue;
        }
        if (t.normalizer !== null) section = t.normalizer(section);
        if (section.length === 0) continue;
        for (const sub of splitAdded(t, splitNormalized, section)) {
          if (sub.length === 0) continue;
          const subAdded = addedMap.get(sub);
          if (subAdded !== undefined) {
            out.push(subAdded.id);
            continue;
          }
          const words = t.pre_tokenizer !== null ? t.pre_tokenizer(sub, { section_index: s }) : [sub];
          let afterUnk = false; // one model call per word list: runs of unknowns fuse within it
          for (const word of words) afterUnk = pushLong(out, word, afterUnk);
        }
      }
      return out.a.slice(0, out.n);
    };
  };
  // The probes also run with every word cut and chunked at a few characters, so a configuration
  // the cut argument missed turns the cut off (below) instead of giving wrong ids.
  const probeChunks = new Map<string, ChunkIds>();
  const sameAsLibrary = (encode: (text: string) => Uint32Array) =>
    PROBES.every((p) => {
      const want: number[] = tokenizer.encode(p, { add_special_tokens: false }).ids;
      const got = encode(p);
      const again = encode(p); // served from the memo
      return [got, again].every((g) => g.length === want.length && want.every((id, i) => g[i] === id));
    });
  const probeCache = {
    chunkChars: 4,
    get: (k: string) => probeChunks.get(k),
    set: probeChunks.set.bind(probeChunks),
  };
  if (nextCut !== null && !sameAsLibrary(build(0, probeCache))) nextCut = null; // as before: no cuts
  memo.clear();
  if (!sameAsLibrary(build(0, probeCache))) return null;
  memo.clear(); // the real encoder starts with an empty memo of its own size
  return build(CUT_MIN_CHARS, chunks);
}

const PROBES = [
  "hello  world\n\nA b's I'll 123 4567 ...!? \t\r\n end hello world",
  " é ü ñ 中文 日本語 한국어 😀👍🏽 \u{10FFFF} \uFFFD supercalifragilistic antidisestablishment",
  "<|im_start|>user\nx = f(a, b) -> {'k': [1, 2.5e-3]}<|im_end|>\n<s>[INST] ▁word ▁▁ <0x41> </s>",
  // SentencePiece-style cuts: spaces after letters, digits, punctuation, spaces, "▁", a newline, an
  // unknown character, a surrogate pair; added tokens in between.
  "The cache  hit rate\n is 95%. über  naïve\t东京 😀 x▁ ▁y \u0000 \uD800 z[INST] the  prompt  [/INST] a\n b",
];
