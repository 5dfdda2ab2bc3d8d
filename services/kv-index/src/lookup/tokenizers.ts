import {
  type ChatTokenizer,
  formatTokenizerSource,
  NoTokenizerError,
  sourcesFor,
  TokenizerLoader,
  type TokenizerSourceMap,
} from "@inferd/kv-blocks";
import type { Logger } from "@inferd/service-kit";
import { ModelResolver, NoLocalTokenizerError } from "@inferd/tokenizers";

/**
 * Each model's tokenizer for text and chat lookups, from the same `tokenizerSources` the scorer
 * reads (@inferd/tokenizers), so both tokenise a model alike. A model whose sources give no local
 * tokenizer (`approximate`, `server`: kv-index does not call model servers, `tokenizer: estimate`,
 * or nothing usable) gets NoLocalTokenizerError, which the lookup answers as "send token ids".
 */
export class LookupTokenizers {
  readonly #sources: TokenizerSourceMap | undefined;
  readonly #resolver: ModelResolver;

  constructor(sources: TokenizerSourceMap | undefined, resolver = new ModelResolver(new TokenizerLoader())) {
    this.#sources = sources;
    this.#resolver = resolver;
  }

  /** Resolves every model named in the configuration (not `*`): one without a usable source stops the start. */
  async start(logger: Logger): Promise<void> {
    if (this.#sources === undefined) return;
    for (const [model, sources] of this.#sources) {
      if (model === "*") continue;
      const r = await this.#resolver.resolution(model, sources);
      if (r.kind === "error") throw new NoTokenizerError(model, [r.message]);
      const how = r.kind === "local" ? r.source : `${r.source} (text lookups answer "send token ids")`;
      logger.info({ model, tokenizer: how, sources: sources.map(formatTokenizerSource) }, "lookup tokenizer");
    }
  }

  /** The model's tokenizer; throws NoLocalTokenizerError when kv-index has none for it. */
  tokenizerFor = async (model: string): Promise<ChatTokenizer> => {
    if (this.#sources === undefined)
      throw new NoLocalTokenizerError(model, "kv-index runs with tokenizer: estimate");
    return this.#resolver.local(model, sourcesFor(this.#sources, model));
  };
}
