import { type BlockIndex, parseEngineId, type RulesFor } from "@inferd/block-index";
import { type ChatRequest, chatRequestFromProto, requestKeyHasher } from "@inferd/kv-blocks";
import {
  type KvLookupRequest,
  type KvLookupResponse,
  KvLookupResponseSchema,
  make,
  type PodPrefixMatch,
  PodPrefixMatchSchema,
} from "@inferd/protocol";
import { NoLocalTokenizerError, type TokenizeJob } from "@inferd/tokenizers";
import { TokenizerServerError } from "./tokenizers.ts";

/** A lookup answered with an error code and an HTTP-like status (NATS and HTTP answers carry both). */
export class LookupError extends Error {
  override readonly name: string = "LookupError";
  readonly code: string = "error";
  readonly status: number = 500;
}

/** A lookup request the caller got wrong (unknown prompt form, empty model...). */
export class LookupInputError extends LookupError {
  override readonly name: string = "LookupInputError";
  override readonly code: string = "bad_request";
  override readonly status: number = 400;
}

/** The model's server did not tokenise the prompt (source `server`): retry, or send token ids. */
export class TokenizerUnavailableLookupError extends LookupError {
  override readonly name = "TokenizerUnavailableLookupError";
  override readonly code = "tokenizer_unavailable";
  override readonly status = 503;
}

/**
 * A text or chat lookup for a model kv-index has no tokenizer for: answered explicitly, never by
 * tokenising with another model's tokenizer (whose blocks would silently match nothing).
 */
export class NoTokenizerLookupError extends LookupError {
  override readonly name = "NoTokenizerLookupError";
  override readonly code = "no_tokenizer";
  override readonly status = 422;
}

export interface LookupTimings {
  /** Seconds spent tokenising (0 for token-id prompts). */
  tokenizeSeconds: number;
  /** Seconds spent computing keys and querying the index. */
  lookupSeconds: number;
  tokenizeKind: "tokens" | "text" | "chat";
}

export interface LookupOptions {
  /** Tokens per block (the engines' block size). */
  blockSize: number;
  /**
   * The prompt's token ids for a model (its tokenizer loaded on first use, or its server asked);
   * throws NoLocalTokenizerError (@inferd/tokenizers) when there is no tokenizer for the model, which
   * the lookup answers with NoTokenizerLookupError, and TokenizerServerError when the model's server
   * did not answer (TokenizerUnavailableLookupError).
   */
  tokenize(model: string, job: TokenizeJob): Promise<Uint32Array>;
  /** vLLM rules per model pool, for the extra keys of LoRA / salted prompts (default current vLLM). */
  rulesFor?: RulesFor;
}

/**
 * Answers "how much of this prompt does each pod hold?": tokenises when needed, computes the
 * request keys of the prompt's full blocks and asks the index for each engine's consecutive
 * prefix. Data-parallel ranks of one pod are folded into the pod (its best rank).
 */
export class PrefixLookup {
  readonly #index: BlockIndex;
  readonly #options: LookupOptions;

  constructor(index: BlockIndex, options: LookupOptions) {
    this.#index = index;
    this.#options = options;
  }

  async #tokenize(model: string, job: TokenizeJob): Promise<Uint32Array> {
    try {
      return await this.#options.tokenize(model, job);
    } catch (err) {
      if (err instanceof NoLocalTokenizerError)
        throw new NoTokenizerLookupError(`${err.message}; send the prompt's token ids (tokens) instead`);
      if (err instanceof TokenizerServerError)
        throw new TokenizerUnavailableLookupError(`${err.message}; retry, or send the prompt's token ids`);
      throw err;
    }
  }

  async lookup(req: KvLookupRequest): Promise<{ response: KvLookupResponse; timings: LookupTimings }> {
    if (!req.model) throw new LookupInputError("model is required");
    const t0 = performance.now();
    let tokens: ArrayLike<number>;
    const prompt = req.prompt;
    switch (prompt.case) {
      case "tokens":
        // Hashing reads typed arrays much faster than plain arrays (subarray, no slice).
        tokens = Uint32Array.from(prompt.value.ids);
        break;
      case "text":
        // The completions API: vLLM adds the tokenizer's special tokens (e.g. a BOS).
        tokens = await this.#tokenize(req.model, { kind: "text", text: prompt.value });
        break;
      case "chat": {
        if (prompt.value.messages.length === 0) throw new LookupInputError("chat prompt has no messages");
        let request: ChatRequest;
        try {
          request = chatRequestFromProto(prompt.value);
        } catch (err) {
          throw new LookupInputError(`chat prompt: ${(err as Error).message}`);
        }
        tokens = await this.#tokenize(req.model, { kind: "chat", chat: request });
        break;
      }
      default:
        throw new LookupInputError("prompt is required: tokens, text or chat");
    }
    const t1 = performance.now();
    const { blockSize } = this.#options;
    const keys = requestKeyHasher(req.model).keys(tokens, {
      blockSize,
      loraName: req.loraName || null,
      cacheSalt: req.cacheSalt || null,
      rules: this.#options.rulesFor?.(req.model),
    });
    const candidates = req.candidatePods.length > 0 ? new Set(req.candidatePods) : undefined;
    const matches = keys.length === 0 ? [] : await this.#index.lookup(req.model, keys);
    const byPod = new Map<string, PodPrefixMatch>();
    for (const m of matches) {
      const { pod } = parseEngineId(m.engine);
      if (candidates && !candidates.has(pod)) continue;
      const best = byPod.get(pod);
      if (!best) {
        byPod.set(
          pod,
          make(PodPrefixMatchSchema, {
            pod,
            gpuBlocks: m.gpuBlocks,
            cpuBlocks: m.anyBlocks,
            matchedBlocks: m.anyBlocks,
          }),
        );
      } else {
        best.gpuBlocks = Math.max(best.gpuBlocks, m.gpuBlocks);
        best.cpuBlocks = Math.max(best.cpuBlocks, m.anyBlocks);
        best.matchedBlocks = best.cpuBlocks;
      }
    }
    const pods = [...byPod.values()].sort(
      (a, b) => b.matchedBlocks - a.matchedBlocks || b.gpuBlocks - a.gpuBlocks,
    );
    const t2 = performance.now();
    return {
      response: make(KvLookupResponseSchema, {
        totalBlocks: keys.length,
        blockSize,
        promptTokens: tokens.length,
        pods,
      }),
      timings: {
        tokenizeSeconds: (t1 - t0) / 1000,
        lookupSeconds: (t2 - t1) / 1000,
        tokenizeKind: prompt.case,
      },
    };
  }
}
