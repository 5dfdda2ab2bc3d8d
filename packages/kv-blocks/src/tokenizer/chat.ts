/**
 * The whole OpenAI chat request as the chat template sees it, prepared the way vLLM prepares it
 * (vllm/entrypoints/chat_utils.py, "string" content format): text parts joined with "\n",
 * tool-call arguments parsed from JSON strings into objects (templates call `tojson` on them), every
 * other message field (name, tool_calls, tool_call_id, reasoning_content, ...) passed through.
 */

/** One chat message as the template sees it. Extra fields reach the template unchanged. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
  readonly [extra: string]: unknown;
}

/** The template-relevant fields of a chat completion request. */
export interface ChatRequest {
  readonly messages: readonly unknown[];
  /** Append the assistant turn opener (OpenAI/vLLM default true). */
  readonly addGenerationPrompt?: boolean;
  /** Render the final (assistant) message open-ended, so the model continues it. */
  readonly continueFinalMessage?: boolean;
  readonly tools?: readonly unknown[] | null;
  readonly documents?: readonly unknown[] | null;
  /** vLLM `chat_template_kwargs` (e.g. `{enable_thinking: false}`); merged into the template variables. */
  readonly chatTemplateKwargs?: Readonly<Record<string, unknown>> | null;
}

/** Picks the chat-template fields out of an OpenAI chat completion body (snake_case, as sent). */
export function chatRequestFromBody(body: Readonly<Record<string, unknown>>): ChatRequest {
  const kwargs = body.chat_template_kwargs;
  return {
    messages: Array.isArray(body.messages) ? body.messages : [],
    addGenerationPrompt: typeof body.add_generation_prompt === "boolean" ? body.add_generation_prompt : true,
    continueFinalMessage: body.continue_final_message === true,
    tools: Array.isArray(body.tools) ? body.tools : null,
    documents: Array.isArray(body.documents) ? body.documents : null,
    chatTemplateKwargs:
      kwargs && typeof kwargs === "object" && !Array.isArray(kwargs)
        ? (kwargs as Record<string, unknown>)
        : null,
  };
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (content === null || content === undefined) return "";
  if (Array.isArray(content)) {
    return content
      .map((part) => {
        const p = part as Record<string, unknown>;
        if (typeof part === "string") return part;
        if ((p.type === "text" || p.type === "input_text") && typeof p.text === "string") return p.text;
        throw new Error(`content part of type ${JSON.stringify(p?.type)} is not supported (text only)`);
      })
      .join("\n");
  }
  throw new Error("message content must be a string or a list of parts");
}

function parseArguments(toolCalls: unknown): unknown {
  if (!Array.isArray(toolCalls)) return toolCalls;
  return toolCalls.map((tc) => {
    const fn = (tc as { function?: { arguments?: unknown } } | null)?.function;
    if (!fn || typeof fn.arguments !== "string") return tc;
    try {
      return { ...(tc as object), function: { ...fn, arguments: JSON.parse(fn.arguments) } };
    } catch {
      return tc; // vLLM leaves arguments that are not JSON as they are
    }
  });
}

/** OpenAI messages -> template messages (see the module comment). Throws on unusable input. */
export function templateMessages(messages: readonly unknown[]): ChatMessage[] {
  return messages.map((m, i) => {
    if (typeof m !== "object" || m === null || typeof (m as { role?: unknown }).role !== "string")
      throw new Error(`messages[${i}] needs a role`);
    const o = m as Record<string, unknown>;
    const out: Record<string, unknown> = { ...o, role: o.role, content: textOf(o.content) };
    if (o.tool_calls !== undefined) out.tool_calls = parseArguments(o.tool_calls);
    return out as unknown as ChatMessage;
  });
}

/**
 * transformers' `continue_final_message`: cut the rendered prompt right after the final message's
 * content (dropping the end-of-turn the template wrote), trying the stripped content when the
 * template stripped whitespace.
 */
export function continueFinal(rendered: string, finalContent: string): string {
  for (const needle of [finalContent, finalContent.trim()]) {
    if (needle === "") continue;
    const at = rendered.lastIndexOf(needle);
    if (at >= 0) return rendered.slice(0, at + needle.length);
  }
  throw new Error("continue_final_message: the final message does not appear in the rendered chat");
}

/** The protobuf chat prompt (inferd.v1.ChatMessages) fields this module reads. */
export interface ChatMessagesLike {
  readonly messages: readonly {
    readonly role: string;
    readonly content: string;
    readonly extraJson?: string;
  }[];
  readonly addGenerationPrompt?: boolean | undefined;
  readonly toolsJson?: string;
  readonly chatTemplateKwargsJson?: string;
  readonly continueFinalMessage?: boolean;
  readonly documentsJson?: string;
}

function parseJsonField(name: string, text: string | undefined, kind: "list" | "object"): unknown {
  if (text === undefined || text === "") return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${name}: not JSON (${(err as Error).message})`);
  }
  if (kind === "list" ? !Array.isArray(v) : typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`${name}: expected a JSON ${kind}`);
  return v;
}

/**
 * inferd.v1.ChatMessages (the gateway's copy of a chat request) -> ChatRequest. Throws when a JSON
 * field is malformed: the caller then cannot tokenise as the server would and must say so.
 */
export function chatRequestFromProto(chat: ChatMessagesLike): ChatRequest {
  return {
    messages: chat.messages.map((m, i) => {
      const extra = parseJsonField(`messages[${i}].extra_json`, m.extraJson, "object") as Record<
        string,
        unknown
      > | null;
      return { ...(extra ?? {}), role: m.role, content: m.content };
    }),
    addGenerationPrompt: chat.addGenerationPrompt ?? true,
    continueFinalMessage: chat.continueFinalMessage ?? false,
    tools: parseJsonField("tools_json", chat.toolsJson, "list") as unknown[] | null,
    chatTemplateKwargs: parseJsonField(
      "chat_template_kwargs_json",
      chat.chatTemplateKwargsJson,
      "object",
    ) as Record<string, unknown> | null,
    documents: parseJsonField("documents_json", chat.documentsJson, "list") as unknown[] | null,
  };
}
