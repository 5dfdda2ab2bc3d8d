import { request } from "undici";
import type { TokenizeJob } from "./job.ts";

/**
 * vLLM's `POST /tokenize` on a server of the model: the server applies its own chat template (chat)
 * or adds its special tokens (completions), so the ids are the engine's by construction. Costs a
 * round trip per pick; the server's tokenizer CPU, not the scorer's.
 */
export async function serverTokenize(
  address: string,
  model: string,
  job: TokenizeJob,
  timeoutMs: number,
): Promise<Uint32Array> {
  const body =
    job.kind === "text"
      ? { model, prompt: job.text, add_special_tokens: true }
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
  const res = await request(new URL("/tokenize", address), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const json = (await res.body.json()) as { tokens?: unknown; message?: unknown };
  if (res.statusCode !== 200 || !Array.isArray(json.tokens))
    throw new Error(`POST ${address}/tokenize: ${res.statusCode} ${String(json.message ?? "")}`.trim());
  return Uint32Array.from(json.tokens as number[]);
}
