import type { CycleState } from "../../framework/cycle.ts";
import type { Handle, TokenizerFn } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { DataProducer } from "../../framework/plugin.ts";
import { ensureTokens } from "../../framework/tokens.ts";

export const TOKEN_PRODUCER = "token-producer";

/**
 * Tokenises the prompt once per request: the model's tokenizer with its chat template when the
 * scorer has one (kv-blocks), else llm-d's `estimate` backend (4 bytes per pseudo-token).
 */
export class TokenProducer implements DataProducer {
  readonly type = TOKEN_PRODUCER;
  readonly name: string;
  readonly provides = ["tokens"] as const;
  private readonly tokenizer: TokenizerFn | undefined;

  constructor(tokenizer: TokenizerFn | undefined, name: string = TOKEN_PRODUCER) {
    this.tokenizer = tokenizer;
    this.name = name;
  }

  async produce(cycle: CycleState): Promise<void> {
    await ensureTokens(cycle, this.tokenizer);
  }
}

export function tokenProducerFactory(name: string, params: Params, handle: Handle): TokenProducer {
  const backend = params.oneOf("backend", ["auto", "estimate", "vllm", "hf"], "auto");
  params.ignore("modelName", "vllm", "hf");
  if (backend === "vllm" || backend === "hf") {
    params.warnings.push(`plugin "${name}": backend ${backend} is served by inferd's built-in tokenizer`);
  }
  return new TokenProducer(backend === "estimate" ? undefined : handle.tokenizer, name);
}
