import type { Tokenizer } from "@huggingface/tokenizers";

/**
 * Texts for warming a fresh tokenizer up, made of the tokenizer's own vocabulary (added tokens left
 * out) and shaped like prompts: words of one to three pieces, mostly printable ASCII as most prompts
 * are, some of the vocabulary's other scripts, numbers, punctuation, line breaks. Encoding them walks
 * the paths a real prompt walks (normaliser, pre-tokenizer, the BPE merges of words not seen yet,
 * byte fallback) with the same kinds of strings: the JIT's code for them then also fits real prompts
 * (text of random token ids alone left it deoptimising on the first real ones). Deterministic.
 */
export function warmUpTexts(tokenizer: Tokenizer, count: number, wordsEach: number): string[] {
  const ids = [...tokenizer.get_vocab(false).values()].sort((a, b) => a - b);
  if (ids.length === 0) return [];
  let seed = 0x2545f491;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  // A sample of the vocabulary, each piece as the model prints it, split by script.
  const ascii: string[] = [];
  const other: string[] = [];
  for (let i = 0; i < 4096; i++) {
    const piece = tokenizer.decode([ids[next() % ids.length]!], { skip_special_tokens: true }).trim();
    if (piece === "") continue;
    (/^[\x21-\x7e]+$/.test(piece) ? ascii : other).push(piece);
  }
  const from = (list: string[]) => (list.length > 0 ? list[next() % list.length]! : "a");
  const texts: string[] = [];
  for (let t = 0; t < count; t++) {
    const words: string[] = [];
    for (let w = 0; w < wordsEach; w++) {
      const kind = next() % 20;
      let word = kind === 0 ? from(other) : kind === 1 ? String(next() % 100_000) : from(ascii);
      for (let more = next() % 3; more > 0; more--) word += from(kind === 0 ? other : ascii);
      words.push(w % 17 === 16 ? `${word}.\n` : w % 7 === 6 ? `${word},` : word);
    }
    texts.push(words.join(" "));
  }
  return texts;
}
