import { request } from "undici";
import type { TokenizeJob } from "./resolver.ts";

/**
 * vLLM's `POST /tokenize` (or, with `render`, its render endpoints) on a server of the model: the server applies its own chat template (chat)
 * or adds its special tokens (completions), so the ids are the engine's by construction. Costs a
 * round trip per pick; the server's tokenizer CPU, not the scorer's.
 */
export async function serverTokenize(
  address: string,
  model: string,
  job: TokenizeJob,
  timeoutMs: number,
  render = false,
): Promise<Uint32Array> {
  const body =
    job.kind === "text"
      ? { model, prompt: job.text, ...(render ? {} : { add_special_tokens: true }) }
      : {
          model,
          messages: job.chat.messages,
          add_generation_prompt: job.chat.continueFinalMessage
            ? false
            : (job.chat.addGenerationPrompt ?? true),
          continue_final_message: job.chat.continueFinalMessage ?? false,
          ...(job.chat.tools ? { tools: job.chat.tools } : {}),
          ...(job.chat.chatTemplateKwargs ? { chat_template_kwargs: job.chat.chatTemplateKwargs } : {}),
          ...(job.chat.documents ? { documents: job.chat.documents } : {}),
        };
  // Render endpoints answer vLLM GenerateRequests ({token_ids}; a list of them for completions).
  const path = !render
    ? "/tokenize"
    : job.kind === "text"
      ? "/v1/completions/render"
      : "/v1/chat/completions/render";
  const res = await request(new URL(path, address), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const raw = (await res.body.json()) as unknown;
  const json = (Array.isArray(raw) ? raw[0] : raw) as {
    tokens?: unknown;
    token_ids?: unknown;
    message?: unknown;
  };
  const ids = render ? json?.token_ids : json?.tokens;
  if (res.statusCode !== 200 || !Array.isArray(ids))
    throw new Error(`POST ${address}${path}: ${res.statusCode} ${String(json?.message ?? "")}`.trim());
  return Uint32Array.from(ids as number[]);
}
