import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { SimContext } from "../sim-context.ts";
import { HttpError } from "./errors.ts";
import { assertServing, promptTokensOf, resolveModel } from "./generate.ts";
import { type ParsedRequest, parseChatRequest, parseCompletionRequest } from "./openai.ts";

function body(raw: unknown): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new HttpError(400, "The request body must be a JSON object.");
  return raw as Record<string, unknown>;
}

function flag(o: Record<string, unknown>, key: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== "boolean") throw new HttpError(400, `${key} must be a boolean.`, undefined, key);
  return v;
}

/** The model a request names (served name or adapter), defaulting to the first served name. */
function modelOf(ctx: SimContext, o: Record<string, unknown>): string {
  if (typeof o.model === "string" && o.model !== "") {
    resolveModel(ctx, o.model);
    return o.model;
  }
  return ctx.options.servedModelNames[0]!;
}

/** vLLM's GenerateRequest (render output): the prompt ids the engine would run, and the sampling. */
function generateRequest(ctx: SimContext, p: ParsedRequest, ids: number[], prefix: string, salt: unknown) {
  return {
    request_id: `${prefix}-${randomBytes(16).toString("hex")}`,
    token_ids: ids,
    features: null,
    sampling_params: {
      max_tokens: p.maxTokens ?? Math.max(1, ctx.options.maxModelLen - ids.length),
      min_tokens: p.minTokens,
      ignore_eos: p.ignoreEos,
      seed: p.seed,
    },
    model: p.model,
    stream: p.stream,
    stream_options: p.stream ? { include_usage: p.includeUsage } : null,
    cache_salt: typeof salt === "string" ? salt : null,
    priority: 0,
  };
}

/**
 * vLLM's tokenizer endpoints: POST /tokenize (a completions prompt, or chat `messages` through the chat
 * template; add_special_tokens, return_token_strs), POST /detokenize, and the render endpoints
 * POST /v1/completions/render (a list of GenerateRequest, one per prompt) and
 * POST /v1/chat/completions/render (one GenerateRequest) that vllm-router and llm-d call.
 */
export function registerTokenizeRoutes(app: FastifyInstance, ctx: SimContext): void {
  app.post("/tokenize", async (req) => {
    const o = body(req.body);
    const model = modelOf(ctx, o);
    const chat = o.messages !== undefined;
    // vLLM defaults: completions add special tokens, chat does not (the template writes them).
    const addSpecial = flag(o, "add_special_tokens", !chat);
    const parsed = chat
      ? parseChatRequest({ ...o, model, max_tokens: undefined })
      : parseCompletionRequest({ ...o, model, max_tokens: undefined });
    let tokens = promptTokensOf(ctx, parsed, addSpecial);
    if (chat && addSpecial) {
      // vLLM tokenises the rendered chat with add_special_tokens=True then: the BOS may double.
      const once = ctx.tokenizer.encodeCompletion("");
      tokens = [...once, ...tokens];
    }
    return {
      count: tokens.length,
      max_model_len: ctx.options.maxModelLen,
      tokens,
      token_strs: flag(o, "return_token_strs", false) ? ctx.tokenizer.tokenStrs(tokens) : null,
    };
  });

  app.post("/detokenize", async (req) => {
    const o = body(req.body);
    modelOf(ctx, o);
    const tokens = o.tokens;
    if (!Array.isArray(tokens) || !tokens.every((t) => Number.isInteger(t) && t >= 0)) {
      throw new HttpError(400, "tokens must be a list of token ids.", undefined, "tokens");
    }
    return { prompt: ctx.tokenizer.decode(tokens as number[]) };
  });

  app.post("/v1/completions/render", async (req) => {
    assertServing(ctx);
    const o = body(req.body);
    const model = modelOf(ctx, o);
    const prompts =
      Array.isArray(o.prompt) && o.prompt.some((x) => typeof x !== "number") ? o.prompt : [o.prompt];
    return prompts.map((prompt) => {
      const p = parseCompletionRequest({ ...o, model, prompt });
      return generateRequest(
        ctx,
        p,
        promptTokensOf(ctx, p, flag(o, "add_special_tokens", true)),
        "cmpl",
        o.cache_salt,
      );
    });
  });

  app.post("/v1/chat/completions/render", async (req) => {
    assertServing(ctx);
    const o = body(req.body);
    const model = modelOf(ctx, o);
    const p = parseChatRequest({ ...o, model });
    return generateRequest(ctx, p, promptTokensOf(ctx, p), "chatcmpl", o.cache_salt);
  });
}
