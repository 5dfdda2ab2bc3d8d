import { loadTokenizer } from "@inferd/kv-blocks";
import { selectWords } from "../lib/text.ts";
import type { TraceRequest } from "../lib/trace.ts";
import { materialize } from "../lib/trace.ts";

export interface TokenCounter {
  count(text: string): number;
}

/** The Qwen3 tokenizer of @inferd/kv-blocks, the words that are one token each, and a counter. */
export async function loadWords(model: string): Promise<{ words: string[]; counter: TokenCounter }> {
  const tok = await loadTokenizer(model);
  const words = selectWords({
    vocab: () => tok.tokenizer.get_vocab(false),
    encode: (text) => tok.encodeDirect(text),
  });
  return { words, counter: { count: (text) => tok.encodeDirect(text).length } };
}

/**
 * Checks the exact-length claim on real trace requests: system prompt, question and their
 * concatenation must have exactly the planned token counts. Returns problems (empty = exact).
 */
export function verifyExactLengths(
  sample: readonly TraceRequest[],
  words: readonly string[],
  counter: TokenCounter,
  systemPromptLen: number,
): string[] {
  const problems: string[] = [];
  for (const r of sample) {
    const user = materialize(r.user, words);
    const text = (r.system ?? "") + user;
    const n = counter.count(text);
    if (n !== r.textTokens) problems.push(`request ${r.index}: ${n} tokens, planned ${r.textTokens}`);
    if (r.system !== null) {
      const s = counter.count(r.system);
      if (s !== systemPromptLen)
        problems.push(`request ${r.index}: system prompt ${s} tokens, planned ${systemPromptLen}`);
    }
  }
  return problems;
}
