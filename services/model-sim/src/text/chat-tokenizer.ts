import { type ChatMessage, type ChatTokenizer, loadTokenizer } from "@inferd/kv-blocks";
import type { ChatTemplateOptions, SimTokenizer } from "./tokenizer.ts";

/** OpenAI content parts -> the plain string the template sees (vLLM joins text parts with "\n"). */
function toTemplateMessage(m: unknown): ChatMessage {
  const o = m as Record<string, unknown>;
  const c = o.content;
  let content: string;
  if (typeof c === "string") content = c;
  else if (c === null || c === undefined) content = "";
  else if (Array.isArray(c)) {
    content = c
      .map((part) => {
        const p = part as Record<string, unknown>;
        if (p.type === "text" && typeof p.text === "string") return p.text;
        throw new Error(`content part of type ${JSON.stringify(p.type)} is not supported (text only)`);
      })
      .join("\n");
  } else throw new Error("message content must be a string or a list of parts");
  return { ...o, role: String(o.role), content };
}

/** The Qwen3 tokenizer and chat template from @inferd/kv-blocks, as the simulator uses them. */
export function simTokenizerFrom(tok: ChatTokenizer): SimTokenizer {
  const eos = tok.encode(tok.eosToken ?? "<|im_end|>");
  if (eos.length !== 1) throw new Error(`EOS token ${tok.eosToken} does not map to one id`);
  return {
    eosTokenId: eos[0]!,
    encode: (text) => Array.from(tok.encode(text)),
    decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    chatPromptTokens(messages: readonly unknown[], opts: ChatTemplateOptions): number[] {
      const msgs = messages.map(toTemplateMessage);
      const base = {
        addGenerationPrompt: opts.continueFinalMessage ? false : opts.addGenerationPrompt,
        ...(opts.tools ? { tools: opts.tools } : {}),
        ...(opts.chatTemplateKwargs ? { chatTemplateKwargs: opts.chatTemplateKwargs } : {}),
      };
      let text = tok.applyChatTemplate(msgs, base);
      if (opts.continueFinalMessage) {
        // vLLM: the rendered prompt ends right after the final message's content (no end-of-turn).
        const last = msgs[msgs.length - 1]!.content;
        const at = last === "" ? -1 : text.lastIndexOf(last);
        if (at >= 0) text = text.slice(0, at + last.length);
      }
      return Array.from(tok.encode(text));
    },
  };
}

/** Loads the shared tokenizer once per process (a fleet shares it). */
export async function loadSimTokenizer(model: string): Promise<SimTokenizer> {
  return simTokenizerFrom(await loadTokenizer(model));
}
