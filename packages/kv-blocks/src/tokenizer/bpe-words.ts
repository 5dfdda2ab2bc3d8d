import * as hf from "@huggingface/tokenizers";

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
 * What is the library's: every step that turns text into words: the added-token splitters (with
 * lstrip/rstrip; skipped when the text holds none of the added tokens' first characters), the
 * normaliser, the pre-tokenizer (with `section_index`), and, for a word not memoised yet, its BPE
 * model and its id rule (added token, else vocabulary, else unk). What is
 * ours: the loop that strings them together, written as `Tokenizer.encode_text` does it, and the
 * memo. It is exact because the library's BPE `encode` handles each word on its own (its only state
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
 * `splitter.split`, skipping its walk over every character when the text holds none of the added
 * tokens' first characters (then no match can start anywhere): for Qwen a scan for "<".
 */
function quickSplit(splitter: Splitter): (text: string) => string[] {
  const first = Object.keys(splitter.trie).filter((k) => k.length === 1);
  const hex = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  const any = first.length === 0 ? null : new RegExp(`[${first.map(hex).join("")}]`);
  return (text) => {
    if (any?.test(text)) return splitter.split(text);
    return text.length === 0 ? [] : [text];
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

/** The memoised encoder for `tokenizer`, or null where it could differ from the library (see above). */
export function wordMemoEncoder(
  tokenizer: hf.Tokenizer,
  capacity = DEFAULT_WORD_MEMO,
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
  // A word's ids: one number for a one-token word that is not unknown (most), else an entry.
  const memo = new Map<string, number | WordEntry>();
  const wordIds = (word: string): number | WordEntry => {
    let ids = memo.get(word);
    if (ids !== undefined) return ids;
    const tokens = model([word]);
    const firstUnk = fuse && tokens.length > 0 && isUnk(tokens[0]!);
    const lastUnk = fuse && tokens.length > 0 && isUnk(tokens[tokens.length - 1]!);
    ids = tokens.length === 1 && !firstUnk ? idOf(tokens[0]!) : { ids: tokens.map(idOf), firstUnk, lastUnk };
    if (word.length < MAX_WORD_CHARS) {
      if (memo.size >= capacity) memo.delete(memo.keys().next().value!);
      memo.set(word, ids);
    }
    return ids;
  };
  const encode = (text: string): Uint32Array => {
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
        for (const word of words) {
          const w = wordIds(word);
          if (typeof w === "number") {
            out.push(w);
            afterUnk = false;
            continue;
          }
          if (w.ids.length === 0) continue;
          for (let i = afterUnk && w.firstUnk ? 1 : 0; i < w.ids.length; i++) out.push(w.ids[i]!);
          afterUnk = w.lastUnk;
        }
      }
    }
    return out.a.slice(0, out.n);
  };
  const same = PROBES.every((p) => {
    const want: number[] = tokenizer.encode(p, { add_special_tokens: false }).ids;
    const got = encode(p);
    const again = encode(p); // served from the memo
    return [got, again].every((g) => g.length === want.length && want.every((id, i) => g[i] === id));
  });
  return same ? encode : null;
}

const PROBES = [
  "hello  world\n\nA b's I'll 123 4567 ...!? \t\r\n end hello world",
  " é ü ñ 中文 日本語 한국어 😀👍🏽 \u{10FFFF} \uFFFD supercalifragilistic antidisestablishment",
  "<|im_start|>user\nx = f(a, b) -> {'k': [1, 2.5e-3]}<|im_end|>\n<s>[INST] ▁word ▁▁ <0x41> </s>",
];
