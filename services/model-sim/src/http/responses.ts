import type { FinishReason } from "../engine/types.ts";

/** Response shapes of vLLM's OpenAI server (vllm/entrypoints/openai/protocol.py). */

export type Kind = "completion" | "chat";

/** vLLM 0.34 UsageInfo; `prompt_tokens_details` is left out unless --enable-prompt-tokens-details. */
export interface Usage {
  prompt_tokens: number;
  total_tokens: number;
  completion_tokens: number;
  prompt_tokens_details?: {
    cached_tokens: number;
    created_cache_tokens: null;
    multimodal_tokens: null;
  };
  completion_tokens_details?: null;
}

export function usageOf(
  promptTokens: number,
  outputTokens: number,
  cachedTokens: number,
  promptTokensDetails: boolean,
): Usage {
  const usage: Usage = {
    prompt_tokens: promptTokens,
    total_tokens: promptTokens + outputTokens,
    completion_tokens: outputTokens,
  };
  if (promptTokensDetails) {
    usage.prompt_tokens_details = {
      cached_tokens: cachedTokens,
      created_cache_tokens: null,
      multimodal_tokens: null,
    };
  }
  return usage;
}

/** Usage in a non-streamed body: vLLM serialises completion_tokens_details as null there. */
export function bodyUsage(u: Usage): Usage {
  return { ...u, completion_tokens_details: null };
}

export interface CompletionBody {
  readonly kind: Kind;
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly usage: Usage;
  readonly kvTransferParams: Record<string, unknown> | null;
}

/**
 * Non-streaming `chat.completion` / `text_completion` body, with every field vLLM 0.34's pydantic
 * models serialise (ChatCompletionResponse / CompletionResponse: `model_dump()`, so unset fields are
 * null; ChatMessage drops `annotations` when None and an empty `tool_calls`). Pinned by the golden
 * field sets in @inferd/kv-blocks/fixtures/vllm-openai/0.34.0.json.
 */
export function completionBody(b: CompletionBody): Record<string, unknown> {
  const choice =
    b.kind === "chat"
      ? {
          index: 0,
          // vLLM 0.34 ChatMessage: `reasoning` (not `reasoning_content`); an empty tool_calls is dropped.
          message: {
            role: "assistant",
            content: b.text,
            refusal: null,
            audio: null,
            function_call: null,
            reasoning: null,
          },
          logprobs: null,
          finish_reason: b.finishReason,
          stop_reason: null,
          token_ids: null,
          routed_experts: null,
          weight_versions: null,
        }
      : {
          index: 0,
          text: b.text,
          logprobs: null,
          finish_reason: b.finishReason,
          stop_reason: null,
          token_ids: null,
          // CompletionResponse carries the prompt fields per choice (ChatCompletionResponse at the top).
          prompt_logprobs: null,
          prompt_token_ids: null,
          routed_experts: null,
          weight_versions: null,
        };
  return {
    id: b.id,
    object: b.kind === "chat" ? "chat.completion" : "text_completion",
    created: b.created,
    model: b.model,
    choices: [choice],
    service_tier: null,
    system_fingerprint: null,
    usage: bodyUsage(b.usage),
    ...(b.kind === "chat" ? { prompt_logprobs: null, prompt_token_ids: null, prompt_text: null } : {}),
    kv_transfer_params: b.kvTransferParams,
    ec_transfer_params: null,
    metrics: null,
  };
}

/** One streamed choice: a chat delta or a completion text piece (finish_reason on the last one). */
export function streamChoice(kind: Kind, text: string, finish: FinishReason | null): Record<string, unknown> {
  if (kind === "chat") {
    return {
      index: 0,
      delta: { content: text },
      logprobs: null,
      finish_reason: finish,
      ...(finish ? { stop_reason: null } : {}),
    };
  }
  return { index: 0, text, logprobs: null, finish_reason: finish, stop_reason: null };
}

export interface NixlPrefillResult {
  readonly blockIds: readonly number[];
  readonly engineId: string;
  readonly requestId: string;
  readonly host: string;
  readonly port: number;
  readonly tpSize: number;
  readonly promptTokens: number;
}

/** NixlConnector (v2) kv_transfer_params a prefill returns for the decode server, copied verbatim. */
export function nixlPrefillParams(r: NixlPrefillResult): Record<string, unknown> {
  return {
    do_remote_prefill: true,
    do_remote_decode: false,
    remote_block_ids: [r.blockIds],
    remote_engine_id: r.engineId,
    remote_request_id: r.requestId,
    remote_host: r.host,
    remote_port: r.port,
    tp_size: r.tpSize,
    remote_num_tokens: r.promptTokens,
  };
}
