import type { CycleState } from "./cycle.ts";
import type { TokenizerFn } from "./handle.ts";
import type { Prompt } from "./types.ts";

/** The prompt as one string (chat messages flattened), for estimation and approximate hashing. */
export function promptText(prompt: Prompt): string {
  switch (prompt.kind) {
    case "text":
      return prompt.text;
    case "chat":
      return prompt.messages.map((m) => `${m.role}\n${m.content}\n`).join("");
    default:
      return "";
  }
}

/**
 * llm-d's `estimate` token backend: 4 UTF-8 bytes make one pseudo-token (little-endian uint32).
 * Used when no tokenizer is available; prefix matches then line up with other requests estimated the
 * same way, and lengths are right to within the bytes-per-token ratio of the language.
 */
export function estimateTokens(text: string): Uint32Array {
  const bytes = new TextEncoder().encode(text);
  const n = Math.ceil(bytes.length / 4);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    out[i] =
      ((bytes[o] ?? 0) |
        ((bytes[o + 1] ?? 0) << 8) |
        ((bytes[o + 2] ?? 0) << 16) |
        ((bytes[o + 3] ?? 0) << 24)) >>>
      0;
  }
  return out;
}

/** Fills cycle.tokens and cycle.promptTokens once per request (tokenizer, else estimate). */
export function ensureTokens(cycle: CycleState, tokenizer: TokenizerFn | undefined): ArrayLike<number> {
  if (cycle.tokens) return cycle.tokens;
  const prompt = cycle.request.prompt;
  let tokens: ArrayLike<number> | undefined;
  if (prompt.kind === "tokens") tokens = prompt.ids;
  else if (prompt.kind !== "none")
    tokens = tokenizer?.(cycle.request.baseModel, prompt) ?? estimateTokens(promptText(prompt));
  else tokens = new Uint32Array(0);
  cycle.tokens = tokens;
  cycle.promptTokens = tokens.length;
  return tokens;
}
