/**
 * Non-streaming requests are sent to the model server as streams so the gateway sees the first
 * token (FIRST_TOKEN: the scorers stop counting the prefill as queued, and their TTFT model learns
 * from these requests too); the chunks are assembled here into the response the client asked for.
 * Pure: no I/O.
 *
 * Only bodies whose answer can be rebuilt exactly are converted (`canAssemble`): options that change
 * the non-streaming answer's shape (prompt logprobs, echo, completions logprobs with text offsets,
 * beam search, best_of, P/D prefill legs) are sent unchanged.
 *
 * The answer has vLLM 0.34's non-streaming shape field for field (`model_dump()` of
 * ChatCompletionResponse / CompletionResponse: every field, null when the stream did not carry it),
 * as a client would have got it from the server directly; pinned by the golden field sets in
 * @inferd/kv-blocks/fixtures/vllm-openai/0.34.0.json.
 */
import type { ApiKind, OpenAiBody } from "./openai-body.ts";

type Json = Record<string, unknown>;

/** Body keys whose non-streaming answer the assembler cannot reproduce. */
const NOT_ASSEMBLED = ["prompt_logprobs", "echo", "best_of", "use_beam_search", "kv_transfer_params"];

export function canAssemble(kind: ApiKind, body: OpenAiBody): boolean {
  if (body.stream === true) return false;
  for (const k of NOT_ASSEMBLED) {
    const v = body[k];
    if (v !== undefined && v !== null && v !== false) return false;
  }
  // Completions logprobs carry text offsets relative to each chunk: not rebuilt.
  if (kind === "completions" && body.logprobs !== undefined && body.logprobs !== null) return false;
  return true;
}

/** The streaming body sent upstream in place of a non-streaming one (usage always asked for). */
export function streamingBody(body: OpenAiBody): OpenAiBody {
  return { ...body, stream: true, stream_options: { include_usage: true } };
}

interface ToolCall {
  id?: string;
  type?: string;
  function: { name?: string; arguments: string };
}

interface Choice {
  index: number;
  role: string;
  text: string[];
  sawContent: boolean;
  reasoning: string[];
  sawReasoning: boolean;
  toolCalls: Map<number, ToolCall>;
  logprobs: unknown[] | undefined;
  finishReason: unknown;
  stopReason: unknown;
  /** Output token ids (`return_token_ids`), concatenated; undefined when no chunk carried them. */
  tokenIds: unknown[] | undefined;
  /** Completions: the prompt's token ids, on the first chunk's choice. */
  promptTokenIds: unknown;
  weightVersions: unknown;
  /** The delta named the reasoning `reasoning_content` (vLLM before 0.34's `reasoning`). */
  reasoningContentName: boolean;
}

/** The last non-null value a chunk carried for a top-level field. */
const CARRIED = ["system_fingerprint", "prompt_token_ids", "prompt_text", "metrics", "kv_transfer_params"];

export class StreamAssembler {
  readonly #kind: ApiKind;
  #head: Json | undefined;
  readonly #choices = new Map<number, Choice>();
  #usage: unknown = null;
  readonly #carried = new Map<string, unknown>();

  constructor(kind: ApiKind) {
    this.#kind = kind;
  }

  /** One `data:` payload of the stream (`[DONE]` and non-JSON are ignored). */
  push(data: string): void {
    if (data === "[DONE]") return;
    let chunk: Json;
    try {
      chunk = JSON.parse(data) as Json;
    } catch {
      return;
    }
    this.#head ??= chunk;
    if (chunk.usage !== undefined && chunk.usage !== null) this.#usage = chunk.usage;
    for (const k of CARRIED) if (chunk[k] !== undefined && chunk[k] !== null) this.#carried.set(k, chunk[k]);
    if (!Array.isArray(chunk.choices)) return;
    for (const raw of chunk.choices as Json[]) this.#choice(raw);
  }

  #choice(raw: Json): void {
    const index = typeof raw.index === "number" ? raw.index : 0;
    let c = this.#choices.get(index);
    if (c === undefined) {
      c = {
        index,
        role: "assistant",
        text: [],
        sawContent: false,
        reasoning: [],
        sawReasoning: false,
        toolCalls: new Map(),
        logprobs: undefined,
        finishReason: null,
        stopReason: null,
        tokenIds: undefined,
        promptTokenIds: null,
        weightVersions: null,
        reasoningContentName: false,
      };
      this.#choices.set(index, c);
    }
    if (Array.isArray(raw.token_ids)) {
      c.tokenIds ??= [];
      c.tokenIds.push(...(raw.token_ids as unknown[]));
    }
    if (raw.prompt_token_ids !== undefined && raw.prompt_token_ids !== null)
      c.promptTokenIds = raw.prompt_token_ids;
    if (raw.weight_versions !== undefined && raw.weight_versions !== null)
      c.weightVersions = raw.weight_versions;
    if (raw.finish_reason !== undefined && raw.finish_reason !== null) c.finishReason = raw.finish_reason;
    if (raw.stop_reason !== undefined && raw.stop_reason !== null) c.stopReason = raw.stop_reason;
    const lp = raw.logprobs as { content?: unknown[] } | null | undefined;
    if (lp && Array.isArray(lp.content)) {
      c.logprobs ??= [];
      c.logprobs.push(...lp.content);
    }
    if (this.#kind === "completions") {
      if (typeof raw.text === "string") {
        c.text.push(raw.text);
        c.sawContent = true;
      }
      return;
    }
    const delta = (raw.delta ?? {}) as Json;
    if (typeof delta.role === "string") c.role = delta.role;
    if (typeof delta.content === "string") {
      c.text.push(delta.content);
      c.sawContent = true;
    }
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (typeof delta.reasoning_content === "string") c.reasoningContentName = true;
    if (typeof reasoning === "string") {
      c.reasoning.push(reasoning);
      c.sawReasoning = true;
    }
    if (Array.isArray(delta.tool_calls)) {
      for (const t of delta.tool_calls as Json[]) {
        const i = typeof t.index === "number" ? t.index : c.toolCalls.size;
        let call = c.toolCalls.get(i);
        if (call === undefined) {
          call = { function: { arguments: "" } };
          c.toolCalls.set(i, call);
        }
        if (typeof t.id === "string") call.id = t.id;
        if (typeof t.type === "string") call.type = t.type;
        const f = (t.function ?? {}) as Json;
        if (typeof f.name === "string") call.function.name = (call.function.name ?? "") + f.name;
        if (typeof f.arguments === "string") call.function.arguments += f.arguments;
      }
    }
  }

  /** The non-streaming response body. */
  result(): Json {
    const head = this.#head ?? {};
    const chat = this.#kind !== "completions";
    const choices = [...this.#choices.values()]
      .sort((a, b) => a.index - b.index)
      .map((c) => (chat ? this.#chat(c) : this.#completion(c)));
    const carried = (k: string) => this.#carried.get(k) ?? null;
    // Stream usage is dumped with exclude_unset; the non-streaming body has every UsageInfo field.
    const usage =
      typeof this.#usage === "object" && this.#usage !== null
        ? { completion_tokens_details: null, ...(this.#usage as Json) }
        : this.#usage;
    return {
      id: head.id,
      object: chat ? "chat.completion" : "text_completion",
      created: head.created,
      model: head.model,
      choices,
      service_tier: null,
      system_fingerprint: carried("system_fingerprint"),
      usage,
      ...(chat
        ? {
            prompt_logprobs: null,
            prompt_token_ids: carried("prompt_token_ids"),
            prompt_text: carried("prompt_text"),
          }
        : {}),
      kv_transfer_params: carried("kv_transfer_params"),
      ec_transfer_params: null,
      metrics: carried("metrics"),
    };
  }

  #chat(c: Choice): Json {
    const reasoning = c.sawReasoning ? c.reasoning.join("") : null;
    // vLLM 0.34's ChatMessage; `annotations` (dropped when None) and an empty `tool_calls` are left out.
    const message: Json = {
      role: c.role,
      content: c.sawContent ? c.text.join("") : null,
      refusal: null,
      audio: null,
      function_call: null,
    };
    if (c.toolCalls.size > 0)
      message.tool_calls = [...c.toolCalls.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([, t]) => ({ id: t.id, type: t.type ?? "function", function: t.function }));
    message[c.reasoningContentName ? "reasoning_content" : "reasoning"] = reasoning;
    return {
      index: c.index,
      message,
      logprobs: c.logprobs === undefined ? null : { content: c.logprobs },
      finish_reason: c.finishReason,
      stop_reason: c.stopReason,
      token_ids: c.tokenIds ?? null,
      routed_experts: null,
      weight_versions: c.weightVersions,
    };
  }

  #completion(c: Choice): Json {
    return {
      index: c.index,
      text: c.text.join(""),
      logprobs: null,
      finish_reason: c.finishReason,
      stop_reason: c.stopReason,
      token_ids: c.tokenIds ?? null,
      prompt_logprobs: null,
      prompt_token_ids: c.promptTokenIds,
      routed_experts: null,
      weight_versions: c.weightVersions,
    };
  }
}
