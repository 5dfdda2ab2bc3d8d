import { hashInts, Rng } from "../engine/rng.ts";
import type { SimTokenizer } from "./tokenizer.ts";

// Neutral filler sentences; the answer is a seeded sequence of them.
const SENTENCES = [
  "The quick brown fox jumps over the lazy dog.",
  "A journey of a thousand miles begins with a single step.",
  "Caching the prompt prefix saves most of the prefill work.",
  "Each request is scheduled in steps that share one token budget.",
  "The cluster keeps latency low by routing requests to warm servers.",
  "Blocks of sixteen tokens are hashed in a chain from the first one.",
  "When memory runs out, the newest request is preempted and recomputed later.",
  "Streaming responses send one chunk for every generated token.",
  "Time to first token includes the time spent waiting in the queue.",
  "Throughput rises with batch size until the token budget is full.",
  "Simulated servers let us benchmark routing without any GPU.",
  "Good defaults matter more than clever options.",
  "Short answers are cheap, but long prompts are not.",
  "The scheduler serves running requests first, then waiting ones in order.",
  "A prefix hit never covers the final token of the prompt.",
  "Least recently used blocks are evicted first.",
];

interface Sentence {
  tokens: number[];
  pieces: string[];
}

export interface PlannedOutput {
  readonly tokens: number[];
  readonly finishReason: "stop" | "length";
}

export interface PlanParams {
  readonly promptTokens: readonly number[];
  readonly seed: number;
  /** Upper bound on generated tokens (max_tokens, or what the context leaves). */
  readonly maxTokens: number;
  readonly minTokens: number;
  readonly ignoreEos: boolean;
}

/**
 * Deterministic answers: the same (seed, prompt) always gives the same tokens, so a repeated
 * conversation produces identical generated blocks (and prefix hits) as with greedy decoding.
 * Token texts are precomputed per sentence, so streaming never re-decodes.
 */
export class TextGenerator {
  private readonly sentences: Sentence[];
  private readonly eos: number;
  private readonly pieceOf = new Map<number, string>();

  constructor(tokenizer: SimTokenizer) {
    this.eos = tokenizer.eosTokenId;
    this.sentences = SENTENCES.map((s) => {
      const tokens = tokenizer.encode(` ${s}`);
      const pieces: string[] = [];
      let prev = "";
      for (let i = 0; i < tokens.length; i++) {
        const text = tokenizer.decode(tokens.slice(0, i + 1));
        pieces.push(text.slice(prev.length));
        prev = text;
      }
      for (let i = 0; i < tokens.length; i++) this.pieceOf.set(tokens[i]!, pieces[i]!);
      return { tokens, pieces };
    });
  }

  plan(p: PlanParams): PlannedOutput {
    const rng = new Rng(hashInts(p.promptTokens, (p.seed ^ 0x5bd1e995) >>> 0));
    // Natural answer length (before EOS): 16..400 tokens, at least min_tokens.
    const natural = Math.max(p.minTokens, 16 + rng.int(385));
    const limit = p.ignoreEos ? p.maxTokens : Math.min(p.maxTokens, natural + 1);
    const tokens: number[] = [];
    while (tokens.length < limit) {
      const s = this.sentences[rng.int(this.sentences.length)]!;
      for (const t of s.tokens) {
        if (tokens.length >= limit) break;
        tokens.push(t);
      }
    }
    if (!p.ignoreEos && natural + 1 <= p.maxTokens) {
      tokens[natural] = this.eos;
      tokens.length = natural + 1;
      return { tokens, finishReason: "stop" };
    }
    return { tokens, finishReason: "length" };
  }

  /** Text of one generated token ("" for EOS, as vLLM skips special tokens). */
  piece(token: number): string {
    if (token === this.eos) return "";
    return this.pieceOf.get(token) ?? "";
  }
}
