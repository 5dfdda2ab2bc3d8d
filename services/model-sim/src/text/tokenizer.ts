/** What the simulator needs from a tokenizer (implemented with @inferd/kv-blocks' ChatTokenizer). */
export interface SimTokenizer {
  /** Where it came from (a directory, the hub cache, the npm Qwen3 package), for logs. */
  readonly source: string;
  /** Token ids of text, no special tokens added. */
  encode(text: string): number[];
  /** A completions prompt as vLLM tokenises it (add_special_tokens=True: e.g. Llama's BOS). */
  encodeCompletion(text: string): number[];
  decode(ids: readonly number[]): string;
  /** Each id's own string (vLLM /tokenize return_token_strs: convert_ids_to_tokens). */
  tokenStrs(ids: readonly number[]): string[];
  /** Renders the model's chat template and tokenizes it, as vLLM's chat endpoint does. */
  chatPromptTokens(messages: readonly unknown[], opts: ChatTemplateOptions): number[];
  /** Token that ends an answer (Qwen3 chat: <|im_end|>). */
  readonly eosTokenId: number;
}

export interface ChatTemplateOptions {
  readonly addGenerationPrompt: boolean;
  readonly continueFinalMessage?: boolean;
  readonly tools?: readonly unknown[] | null;
  readonly documents?: readonly unknown[] | null;
  readonly chatTemplateKwargs?: Readonly<Record<string, unknown>> | null;
}
