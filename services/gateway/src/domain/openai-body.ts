/**
 * Everything the gateway derives from or changes in an OpenAI request body: the prompt handed to
 * the scorer, the token limit, the usage injection for streams, and the two legs of vLLM's
 * NixlConnector prefill/decode protocol (reference §2.2 and B5). Pure: no I/O.
 */
import { isUtf8 } from "node:buffer";

export type ApiKind = "chat" | "completions";

export type OpenAiBody = Record<string, unknown> & { model: string };

/** Chat request fields the chat template sees besides role/content (JSON text; empty = absent). */
export interface ChatTemplateFields {
  addGenerationPrompt: boolean;
  continueFinalMessage: boolean;
  toolsJson: string;
  chatTemplateKwargsJson: string;
  documentsJson: string;
}

export type PromptForPick =
  | {
      case: "chat";
      /** `extraJson`: the message's other fields (tool_calls, tool_call_id, name, ...), when it has any. */
      messages: { role: string; content: string; extraJson?: string }[];
      /** Present when the request sets any template input beyond the messages' role and content. */
      template?: ChatTemplateFields;
    }
  | { case: "text"; text: string }
  | { case: "tokens"; ids: number[] };

/** Flattens chat content (string or array of parts) to plain text. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const parts: string[] = [];
  for (const p of content) {
    if (typeof p === "string") parts.push(p);
    else if (p && typeof p === "object" && typeof (p as { text?: unknown }).text === "string") {
      parts.push((p as { text: string }).text);
    }
  }
  return parts.join("\n");
}

/** The prompt as the scorer wants it (for prefix matching). */
export function promptForPick(kind: ApiKind, body: OpenAiBody): PromptForPick {
  if (kind === "chat") {
    const messages = Array.isArray(body.messages) ? body.messages : [];
    const out: PromptForPick = {
      case: "chat",
      messages: messages.map((m) => {
        const o = (m ?? {}) as Record<string, unknown>;
        const { role, content, ...extra } = o;
        const msg: { role: string; content: string; extraJson?: string } = {
          role: typeof role === "string" ? role : "",
          content: contentText(content),
        };
        if (Object.keys(extra).length > 0) msg.extraJson = JSON.stringify(extra);
        return msg;
      }),
    };
    // The whole request reaches the scorer's chat template (tools, kwargs, generation prompt flags).
    const json = (v: unknown, ok: boolean) => (ok ? JSON.stringify(v) : "");
    const template: ChatTemplateFields = {
      addGenerationPrompt: body.add_generation_prompt !== false,
      continueFinalMessage: body.continue_final_message === true,
      toolsJson: json(body.tools, Array.isArray(body.tools) && body.tools.length > 0),
      chatTemplateKwargsJson: json(
        body.chat_template_kwargs,
        typeof body.chat_template_kwargs === "object" && body.chat_template_kwargs !== null,
      ),
      documentsJson: json(body.documents, Array.isArray(body.documents)),
    };
    if (
      !template.addGenerationPrompt ||
      template.continueFinalMessage ||
      template.toolsJson !== "" ||
      template.chatTemplateKwargsJson !== "" ||
      template.documentsJson !== ""
    )
      out.template = template;
    return out;
  }
  const prompt = body.prompt;
  if (typeof prompt === "string") return { case: "text", text: prompt };
  if (Array.isArray(prompt) && prompt.length > 0) {
    if (prompt.every((t) => typeof t === "number")) return { case: "tokens", ids: prompt as number[] };
    // A batch of prompts: route on the first, as the model server would cache it first.
    const head = prompt[0];
    if (typeof head === "string") return { case: "text", text: head };
    if (Array.isArray(head) && head.every((t) => typeof t === "number"))
      return { case: "tokens", ids: head as number[] };
  }
  return { case: "text", text: "" };
}

/**
 * A rough prompt length in tokens for accounting before usage is known: token ids count as
 * they are; text counts 4 characters per token (llm-d's `estimate` tokenizer ratio).
 */
export function estimatePromptTokens(prompt: PromptForPick): number {
  if (prompt.case === "tokens") return prompt.ids.length;
  const chars =
    prompt.case === "text" ? prompt.text.length : prompt.messages.reduce((n, m) => n + m.content.length, 0);
  return Math.ceil(chars / 4);
}

/** The requested output limit (0 = unknown). */
export function maxTokensOf(body: OpenAiBody): number {
  for (const k of ["max_completion_tokens", "max_tokens"]) {
    const v = body[k];
    if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
  }
  return 0;
}

export function isStream(body: OpenAiBody): boolean {
  return body.stream === true;
}

/** True when the client itself asked for the usage chunk of a stream. */
export function clientWantsStreamUsage(body: OpenAiBody): boolean {
  const so = body.stream_options as { include_usage?: unknown } | null | undefined;
  return so?.include_usage === true;
}

/**
 * The body sent to the model server: unchanged, except that a stream always asks for usage so
 * the gateway can count tokens (the extra chunk is stripped again for clients that did not ask).
 */
export function upstreamBody(body: OpenAiBody): OpenAiBody {
  if (!isStream(body) || clientWantsStreamUsage(body)) return body;
  const so = (
    typeof body.stream_options === "object" && body.stream_options !== null ? body.stream_options : {}
  ) as Record<string, unknown>;
  return { ...body, stream_options: { ...so, include_usage: true } };
}

const USAGE_MEMBER = Buffer.from(',"stream_options":{"include_usage":true}', "latin1");

/**
 * The bytes sent to the model server: `JSON.stringify(upstreamBody(body))` in meaning, but the
 * client's own bytes (`raw`, the text `body` was parsed from) where that is the same request:
 * unchanged when `upstreamBody` changes nothing, and for a stream without `stream_options` the
 * usage member appended before the closing brace (where JSON.stringify of the spread would put
 * it). Re-serialising a 25 kB chat body costs ~30 µs and encoding it again ~9 µs, on the path to
 * the first token. Falls back to JSON.stringify whenever the bytes could be read differently by
 * the model server than `body` says: not valid UTF-8 (the parser replaced bytes), a leading BOM,
 * or an existing `stream_options` to merge into.
 */
export function upstreamPayload(body: OpenAiBody, raw: Buffer | undefined): Buffer | string {
  if (raw === undefined || raw[0] === 0xef || !isUtf8(raw)) return JSON.stringify(upstreamBody(body));
  if (!isStream(body) || clientWantsStreamUsage(body)) return raw;
  if (Object.hasOwn(body, "stream_options") || Object.keys(body).length === 0)
    return JSON.stringify(upstreamBody(body));
  let end = raw.length - 1;
  // JSON's whitespace: space, tab, LF, CR.
  while (end > 0 && (raw[end] === 0x20 || raw[end] === 0x09 || raw[end] === 0x0a || raw[end] === 0x0d)) end--;
  if (raw[end] !== 0x7d) return JSON.stringify(upstreamBody(body));
  return Buffer.concat([raw.subarray(0, end), USAGE_MEMBER, raw.subarray(end)]);
}

/** The kv_transfer_params of a prefill leg (NixlConnector, connector version 2). */
export const PREFILL_KV_TRANSFER_PARAMS = Object.freeze({
  do_remote_decode: true,
  do_remote_prefill: false,
  remote_engine_id: null,
  remote_block_ids: null,
  remote_host: null,
  remote_port: null,
});

const TOKEN_LIMIT_FIELDS = ["max_tokens", "max_completion_tokens", "max_output_tokens"] as const;

/**
 * Prefill leg: same body with `kv_transfer_params.do_remote_decode: true`, one output token, no
 * streaming, `stream_options` removed (as llm-d's nixlv2 sidecar does).
 */
export function prefillBody(body: OpenAiBody): OpenAiBody {
  const out: OpenAiBody = { ...body, kv_transfer_params: { ...PREFILL_KV_TRANSFER_PARAMS }, stream: false };
  delete out.stream_options;
  out.max_tokens = 1;
  for (const f of TOKEN_LIMIT_FIELDS) if (f in body) out[f] = 1;
  return out;
}

/**
 * Decode leg: the original request (original stream, stream_options and limits) plus the
 * prefill response's kv_transfer_params, copied verbatim (opaque JSON: extra keys are kept).
 */
export function decodeBody(body: OpenAiBody, kvTransferParams: unknown): OpenAiBody {
  return { ...body, kv_transfer_params: kvTransferParams };
}

/** The kv_transfer_params of a prefill response body, or undefined when it has none. */
export function kvTransferParamsOf(responseBody: unknown): Record<string, unknown> | undefined {
  if (typeof responseBody !== "object" || responseBody === null) return undefined;
  const p = (responseBody as { kv_transfer_params?: unknown }).kv_transfer_params;
  return typeof p === "object" && p !== null && !Array.isArray(p)
    ? (p as Record<string, unknown>)
    : undefined;
}
