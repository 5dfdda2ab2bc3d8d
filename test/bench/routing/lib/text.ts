import type { Prng } from "./prng.ts";

/**
 * Prompt text with an exact token count. Qwen3's tokenizer (byte-level BPE) first splits text into
 * pre-tokens; " word" (a space and letters) is one pre-token. If every word we use is a vocabulary
 * entry that the tokenizer encodes alone as exactly one token, then n such words joined without
 * separators (" alpha beta ...") tokenise to exactly n tokens, and concatenating two such texts adds
 * their counts. This is what inference-perf does with random valid tokens at word-start boundaries.
 */

/** What word selection needs from a tokenizer. */
export interface WordTokenizer {
  /** Vocabulary entries (token string as in tokenizer.json, id). */
  vocab(): Iterable<readonly [string, number]>;
  encode(text: string): ArrayLike<number>;
}

/** Byte-level BPE writes a leading space as "Ġ". */
const SPACE_WORD = /^Ġ[a-z]{3,10}$/;

/**
 * Words (" alpha") that encode to exactly their own single token, in vocabulary id order.
 * Throws when fewer than `min` qualify (a tokenizer this benchmark cannot use).
 */
export function selectWords(tok: WordTokenizer, limit = 4096, min = 256): string[] {
  const candidates: Array<[number, string]> = [];
  for (const [token, id] of tok.vocab())
    if (SPACE_WORD.test(token)) candidates.push([id, ` ${token.slice(1)}`]);
  candidates.sort((a, b) => a[0] - b[0]);
  const words: string[] = [];
  for (const [id, word] of candidates) {
    const ids = tok.encode(word);
    if (ids.length === 1 && ids[0] === id) words.push(word);
    if (words.length >= limit) break;
  }
  if (words.length < min)
    throw new Error(`tokenizer has only ${words.length} single-token words (need ${min})`);
  return words;
}

/** n random words: exactly n tokens. */
export function wordText(rng: Prng, words: readonly string[], n: number): string {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`wordText: n must be an integer >= 0, got ${n}`);
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = words[rng.int(words.length)]!;
  return parts.join("");
}
