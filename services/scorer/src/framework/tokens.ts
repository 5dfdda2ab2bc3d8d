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

const pending = new WeakMap<CycleState, Promise<ArrayLike<number>>>();

/**
 * Fills cycle.tokens and cycle.promptTokens once per request (tokenizer, else estimate); producers
 * that need tokens share one tokenisation. When a configured tokenizer cannot give exact tokens for
 * the model, the estimate is used and `cycle.tokensApproximate` is set.
 */
export function ensureTokens(
  cycle: CycleState,
  tokenizer: TokenizerFn | undefined,
): Promise<ArrayLike<number>> | ArrayLike<number> {
  if (cycle.tokens) return cycle.tokens;
  const prompt = cycle.request.prompt;
  const set = (tokens: ArrayLike<number>) => {
    cycle.tokens = tokens;
    cycle.promptTokens = tokens.length;
    return tokens;
  };
  if (prompt.kind === "tokens") return set(prompt.ids);
  if (prompt.kind === "none") return set(new Uint32Array(0));
  const estimate = () => {
    if (tokenizer) cycle.tokensApproximate = true;
    return set(estimateTokens(promptText(prompt)));
  };
  if (!tokenizer) return estimate();
  const got = pending.get(cycle);
  if (got) return got;
  const r = tokenizer(cycle.request.baseModel, prompt);
  if (!(r instanceof Promise)) return r ? set(r) : estimate();
  const p = r.then(
    (t) => (t ? set(t) : estimate()),
    () => estimate(),
  );
  pending.set(cycle, p);
  return p;
}
