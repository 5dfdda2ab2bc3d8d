/** What the simulator needs from a tokenizer (implemented by @inferd/kv-blocks' Qwen3 tokenizer). */
export interface SimTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** Renders the model's chat template and tokenizes it, as vLLM's chat endpoint does. */
  chatPromptTokens(messages: readonly unknown[], opts: ChatTemplateOptions): number[];
  /** Token that ends an answer (Qwen3 chat: <|im_end|>). */
  readonly eosTokenId: number;
}

export interface ChatTemplateOptions {
  readonly addGenerationPrompt: boolean;
  readonly continueFinalMessage?: boolean;
  readonly tools?: readonly unknown[] | null;
  readonly chatTemplateKwargs?: Readonly<Record<string, unknown>> | null;
}
