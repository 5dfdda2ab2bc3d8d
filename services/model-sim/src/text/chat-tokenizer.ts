import { existsSync } from "node:fs";
import {
  type ChatTokenizer,
  parseTokenizerSource,
  TokenizerLoader,
  type TokenizerSource,
} from "@inferd/kv-blocks";
import type { ChatTemplateOptions, SimTokenizer } from "./tokenizer.ts";

/** A kv-blocks tokenizer (model's tokenizer.json + chat template) as the simulator uses it. */
export function simTokenizerFrom(tok: ChatTokenizer, source = tok.name): SimTokenizer {
  const eos = tok.encode(tok.eosToken ?? "<|im_end|>");
  if (eos.length !== 1) throw new Error(`EOS token ${tok.eosToken} does not map to one id`);
  return {
    source,
    eosTokenId: eos[0]!,
    encode: (text) => Array.from(tok.encode(text)),
    encodeCompletion: (text) => Array.from(tok.encodeCompletion(text)),
    decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    tokenStrs: (ids) => ids.map((id) => tok.tokenizer.id_to_token(id) ?? ""),
    chatPromptTokens(messages: readonly unknown[], opts: ChatTemplateOptions): number[] {
      return Array.from(
        tok.encodeChat(messages, {
          addGenerationPrompt: opts.continueFinalMessage ? false : opts.addGenerationPrompt,
          continueFinalMessage: opts.continueFinalMessage ?? false,
          tools: opts.tools ?? null,
          documents: opts.documents ?? null,
          chatTemplateKwargs: opts.chatTemplateKwargs ?? null,
        }),
      );
    },
  };
}

/** vLLM's --tokenizer value -> sources: a directory, "qwen3", or a model name in the hub cache. */
export function simTokenizerSources(tokenizer: string): TokenizerSource[] {
  if (tokenizer === "") return [parseTokenizerSource("hf-cache"), parseTokenizerSource("qwen3:any")];
  if (tokenizer === "qwen3") return [parseTokenizerSource("qwen3:any")];
  if (existsSync(tokenizer)) return [{ kind: "dir", path: tokenizer }];
  return [{ kind: "hf-cache", cacheDir: null }];
}

const loader = new TokenizerLoader();

/**
 * The tokenizer a simulated server uses (shared per origin, so a fleet loads it once). `tokenizer`
 * is vLLM's --tokenizer; a named tokenizer that cannot be loaded stops the start-up with the reason.
 */
export async function loadSimTokenizer(model: string, tokenizer = ""): Promise<SimTokenizer> {
  const sources = simTokenizerSources(tokenizer);
  const name = tokenizer !== "" && !existsSync(tokenizer) && tokenizer !== "qwen3" ? tokenizer : model;
  const r = await loader.resolve(name, sources);
  if (r.kind !== "local") throw new Error(`model-sim needs a local tokenizer, got ${r.kind}`);
  return simTokenizerFrom(r.tokenizer, r.source);
}
