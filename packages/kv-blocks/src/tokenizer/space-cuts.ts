import * as hf from "@huggingface/tokenizers";

/**
 * Where a SentencePiece-style BPE word can be cut into parts that the library's BPE model turns into
 * exactly the same tokens as the whole word, derived from the model's own merges.
 *
 * SentencePiece-style conversions (Metaspace with `split: false`, or a Prepend("▁") + Replace(" ",
 * "▁") normaliser and no pre-tokenizer) hand the model one "word" per piece between added tokens.
 * The argument that such a word may be cut before a "▁" (U+2581) that follows a code point `x`:
 * - The library's BPE starts from the word's code points and only ever merges two ADJACENT symbols
 *   whose strings are exactly a merge's `(a, b)`. Across the cut, the symbol on the left always ends
 *   with `x` and the one on the right always starts with "▁". So if no merge has `a` ending with `x`
 *   and `b` starting with "▁", nothing ever joins across the cut.
 * - Merges on one side then never change a pair on the other, and the order among one side's merges
 *   (rank, then position: `rank + i / length`, a monotone function of the position on either side) is
 *   the same as for that side alone, so each side ends as it would on its own.
 * - After merging, every final symbol becomes its id, or its UTF-8 bytes as `<0xXX>` tokens (byte
 *   fallback), or the unk token, one symbol at a time. The one step that looks at neighbours,
 *   `fuse_unk` (a run of unknown tokens becomes one), runs over the model call's whole token list:
 *   the caller (bpe-words.ts) applies it across parts as across words.
 * What would break it, so the rule is not given (null): another model than BPE, `ignore_merges` (a
 *   whole word found in the vocabulary is taken as one token), `end_of_word_suffix` /
 *   `continuing_subword_suffix` (they depend on where the word ends), `dropout` (random merges). The
 *   normaliser and the pre-tokenizer (Prepend, Metaspace's `prepend_scheme`) run on the whole piece
 *   before the cut, so they cannot cross it; `split: true` already gives words.
 * For a vocabulary trained with whitespace splitting (SentencePiece's default) no merge joins a
 * symbol ending in a non-"▁" with one starting with "▁": every "▁" after another character is a cut.
 * A vocabulary trained across words (like the tiny-llama fixture: "er" + "▁") blocks the cut after
 * every character that ends such an `a`.
 */

/** The next safe cut at or after `from` (the index of a "▁"), or -1. */
export type NextCut = (word: string, from: number) => number;

const SPACE = "\u2581";

interface BpeModel {
  readonly merges: readonly (readonly string[])[];
  readonly ignore_merges?: boolean;
  readonly end_of_word_suffix?: string | null;
  readonly continuing_subword_suffix?: string | null;
  readonly config: { readonly dropout?: number | null };
}
const hfBpe = (hf as unknown as { BPE: abstract new () => BpeModel }).BPE;

/** The last code point of `s` before index `end` (a surrogate pair counts as one, as Array.from does). */
function codePointBefore(s: string, end: number): string {
  const lo = s.charCodeAt(end - 1);
  if (end >= 2 && lo >= 0xdc00 && lo <= 0xdfff) {
    const hi = s.charCodeAt(end - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return s.slice(end - 2, end);
  }
  return s[end - 1]!;
}

/**
 * The cut rule of `tokenizer`'s model, or null where the argument above does not hold or no merge
 * holds a "▁" (nothing to cut: byte-level BPE never sees "▁", and the scan would be wasted).
 */
export function spaceCutRule(tokenizer: hf.Tokenizer): NextCut | null {
  const model = (tokenizer as unknown as { model: unknown }).model;
  if (!(model instanceof hfBpe)) return null;
  const dropout = model.config.dropout;
  if (
    model.ignore_merges === true ||
    model.end_of_word_suffix ||
    model.continuing_subword_suffix ||
    (dropout !== null && dropout !== undefined && dropout !== 0)
  )
    return null;
  // The code points that end the left side of a merge whose right side starts with "▁".
  const blocked = new Set<string>();
  let usesSpace = false;
  for (const merge of model.merges) {
    if (merge.length !== 2) continue; // the library's rank key is the pair: such an entry never merges
    const [a, b] = merge as [string, string];
    if (!usesSpace && (a.includes(SPACE) || b.includes(SPACE))) usesSpace = true;
    if (a.length > 0 && b.startsWith(SPACE)) blocked.add(codePointBefore(a, a.length));
  }
  if (!usesSpace) return null;
  return (word, from) => {
    for (let p = word.indexOf(SPACE, Math.max(from, 1)); p !== -1; p = word.indexOf(SPACE, p + 1))
      if (!blocked.has(codePointBefore(word, p))) return p;
    return -1;
  };
}
