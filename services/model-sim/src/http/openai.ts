import { HttpError } from "./errors.ts";

/** The parts of an OpenAI completion / chat request the simulator acts on. */
export interface ParsedRequest {
  readonly kind: "completion" | "chat";
  readonly model: string;
  /** Completion: prompt text or token ids. Chat: messages. */
  readonly prompt: string | number[] | null;
  readonly messages: readonly unknown[] | null;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly continuousUsageStats: boolean;
  readonly maxTokens: number | null;
  readonly minTokens: number;
  readonly ignoreEos: boolean;
  readonly seed: number | null;
  readonly echo: boolean;
  readonly addGenerationPrompt: boolean;
  readonly continueFinalMessage: boolean;
  readonly tools: readonly unknown[] | null;
  readonly chatTemplateKwargs: Readonly<Record<string, unknown>> | null;
  readonly kvTransferParams: Readonly<Record<string, unknown>> | null;
  /** vLLM `cache_salt` (null = none). */
  readonly cacheSalt: string | null;
}

function obj(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "The request body must be a JSON object.");
  }
  return body as Record<string, unknown>;
}

function optInt(o: Record<string, unknown>, key: string, min: number): number | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new HttpError(
      400,
      `${key} must be an integer >= ${min}, got ${JSON.stringify(v)}.`,
      undefined,
      key,
    );
  }
  return v;
}

function optBool(o: Record<string, unknown>, key: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== "boolean") throw new HttpError(400, `${key} must be a boolean.`, undefined, key);
  return v;
}

/** vLLM `cache_salt`: a non-empty string isolating the request's prefix cache (first block's hash). */
function optSalt(o: Record<string, unknown>): string | null {
  const v = o.cache_salt;
  if (v === undefined || v === null) return null;
  if (typeof v !== "string" || v === "")
    throw new HttpError(
      400,
      "Parameter 'cache_salt' must be a non-empty string if provided.",
      undefined,
      "cache_salt",
    );
  return v;
}

function common(o: Record<string, unknown>) {
  if (typeof o.model !== "string" || o.model === "")
    throw new HttpError(400, "model is required.", undefined, "model");
  const n = optInt(o, "n", 1);
  if (n !== null && n !== 1)
    throw new HttpError(400, "n > 1 is not supported by the simulator.", undefined, "n");
  const streamOptions = o.stream_options;
  const stream = optBool(o, "stream", false);
  let includeUsage = false;
  let continuousUsageStats = false;
  if (streamOptions !== undefined && streamOptions !== null) {
    const so = obj(streamOptions);
    if (!stream)
      throw new HttpError(
        400,
        "Stream options can only be defined when `stream=True`.",
        undefined,
        "stream_options",
      );
    includeUsage = optBool(so, "include_usage", false);
    continuousUsageStats = optBool(so, "continuous_usage_stats", false);
  }
  const kv = o.kv_transfer_params;
  if (kv !== undefined && kv !== null && (typeof kv !== "object" || Array.isArray(kv))) {
    throw new HttpError(400, "kv_transfer_params must be an object.", undefined, "kv_transfer_params");
  }
  return {
    model: o.model,
    stream,
    includeUsage,
    continuousUsageStats,
    minTokens: optInt(o, "min_tokens", 0) ?? 0,
    ignoreEos: optBool(o, "ignore_eos", false),
    seed: optInt(o, "seed", Number.MIN_SAFE_INTEGER),
    kvTransferParams: (kv as Record<string, unknown> | undefined) ?? null,
    cacheSalt: optSalt(o),
  };
}

export function parseCompletionRequest(body: unknown): ParsedRequest {
  const o = obj(body);
  const c = common(o);
  let prompt: string | number[];
  const p = o.prompt;
  if (typeof p === "string") prompt = p;
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => Number.isInteger(x) && x >= 0))
    prompt = p as number[];
  else if (Array.isArray(p) && p.length === 1 && (typeof p[0] === "string" || Array.isArray(p[0]))) {
    return parseCompletionRequest({ ...o, prompt: p[0] });
  } else if (Array.isArray(p) && p.length > 1) {
    throw new HttpError(
      400,
      "Batched prompts are not supported by the simulator; send one prompt per request.",
      undefined,
      "prompt",
    );
  } else throw new HttpError(400, "prompt must be a string or a list of token ids.", undefined, "prompt");
  return {
    kind: "completion",
    ...c,
    prompt,
    messages: null,
    // OpenAI's legacy completions API (and vLLM) default to 16 tokens.
    maxTokens: optInt(o, "max_tokens", 1) ?? 16,
    echo: optBool(o, "echo", false),
    addGenerationPrompt: false,
    continueFinalMessage: false,
    tools: null,
    chatTemplateKwargs: null,
  };
}

export function parseChatRequest(body: unknown): ParsedRequest {
  const o = obj(body);
  const c = common(o);
  if (!Array.isArray(o.messages) || o.messages.length === 0) {
    throw new HttpError(400, "messages must be a non-empty list.", undefined, "messages");
  }
  for (const m of o.messages) {
    const mm = obj(m);
    if (typeof mm.role !== "string")
      throw new HttpError(400, "every message needs a role.", undefined, "messages");
  }
  const kwargs = o.chat_template_kwargs;
  return {
    kind: "chat",
    ...c,
    prompt: null,
    messages: o.messages,
    maxTokens: optInt(o, "max_completion_tokens", 1) ?? optInt(o, "max_tokens", 1),
    echo: optBool(o, "echo", false),
    addGenerationPrompt: optBool(o, "add_generation_prompt", true),
    continueFinalMessage: optBool(o, "continue_final_message", false),
    tools: Array.isArray(o.tools) ? o.tools : null,
    chatTemplateKwargs: kwargs && typeof kwargs === "object" ? (kwargs as Record<string, unknown>) : null,
  };
}
