import {
  formatTokenizerSource,
  NoTokenizerError,
  sourcesFor,
  type TokenizerSource,
  type TokenizerSourceMap,
} from "@inferd/kv-blocks";
import type { Logger } from "@inferd/service-kit";
import {
  InlineBackend,
  type LocalTokenizerBackend,
  NoLocalTokenizerError,
  type Resolution,
  serverTokenize,
  type TokenizeJob,
} from "@inferd/tokenizers";

export interface LookupTokenizersOptions {
  /** Base URL of a ready server of the model (the inventory), for the `server` sources. */
  addressOf?: (model: string) => string | undefined;
  /** Deadline of a model server's /tokenize. */
  serverTimeoutMs: number;
  /**
   * Where local tokenizers run: the service passes worker threads (`tokenizerWorkers`, as the
   * scorer does), so a long prompt never holds up the event loop; inline when not given.
   */
  backend?: LocalTokenizerBackend;
}

/** A model server's /tokenize failed (down, slow, an error): the caller may retry or send ids. */
export class TokenizerServerError extends Error {
  override readonly name = "TokenizerServerError";
}

/**
 * Each model's tokenizer for text and chat lookups, from the same `tokenizerSources` the scorer
 * reads (@inferd/tokenizers), so both tokenise a model alike: a local tokenizer (model directory,
 * Hugging Face cache, npm Qwen3), run by the backend, or the model server's own `/tokenize`
 * (`server`, `server-render`, asked of a ready server of the model in the inventory). A model with
 * none (`approximate`, `tokenizer: estimate`, nothing usable, no server in the inventory) gets
 * NoLocalTokenizerError, which the lookup answers as "send token ids".
 */
export class LookupTokenizers {
  readonly #sources: TokenizerSourceMap | undefined;
  readonly #backend: LocalTokenizerBackend;
  readonly #opts: LookupTokenizersOptions;
  readonly #resolutions = new Map<string, Promise<Resolution>>();

  constructor(sources: TokenizerSourceMap | undefined, opts: LookupTokenizersOptions) {
    this.#sources = sources;
    this.#opts = opts;
    this.#backend = opts.backend ?? new InlineBackend();
  }

  /** Whether some model is tokenised by its server (then kv-index follows the inventory). */
  get usesServers(): boolean {
    return [...(this.#sources?.values() ?? [])].some((l) => l.some((s) => s.kind === "server"));
  }

  /** Resolved once per model (asking a worker each lookup would cost a round trip). */
  #resolution(model: string, sources: readonly TokenizerSource[]): Promise<Resolution> {
    let r = this.#resolutions.get(model);
    if (!r) {
      r = this.#backend.resolve(model, sources);
      this.#resolutions.set(model, r);
      r.catch(() => this.#resolutions.delete(model)); // e.g. a worker died: ask again next time
    }
    return r;
  }

  /** Resolves every model named in the configuration (not `*`): one without a usable source stops the start. */
  async start(logger: Logger): Promise<void> {
    if (this.#sources === undefined) return;
    for (const [model, sources] of this.#sources) {
      if (model === "*") continue;
      const r = await this.#resolution(model, sources);
      if (r.kind === "error") throw new NoTokenizerError(model, [r.message]);
      const how = r.kind === "approximate" ? `${r.source} (text lookups answer "send token ids")` : r.source;
      logger.info({ model, tokenizer: how, sources: sources.map(formatTokenizerSource) }, "lookup tokenizer");
    }
  }

  /**
   * The prompt's token ids as the model's server computes them. Throws NoLocalTokenizerError when
   * kv-index has no tokenizer for the model, TokenizerServerError when its server did not answer.
   */
  tokenize = async (model: string, job: TokenizeJob): Promise<Uint32Array> => {
    if (this.#sources === undefined)
      throw new NoLocalTokenizerError(model, "kv-index runs with tokenizer: estimate");
    const sources = sourcesFor(this.#sources, model);
    const r = await this.#resolution(model, sources);
    if (r.kind === "local") return (await this.#backend.encode(model, sources, job)).ids;
    if (r.kind !== "server")
      throw new NoLocalTokenizerError(
        model,
        r.kind === "error" ? r.message : `its tokenizer source is ${r.source}`,
      );
    const address = this.#opts.addressOf?.(model);
    if (address === undefined)
      throw new NoLocalTokenizerError(
        model,
        "its tokenizer source is server and no ready server of it is known",
      );
    try {
      return await serverTokenize(
        address,
        model,
        job,
        this.#opts.serverTimeoutMs,
        r.source === "server-render",
      );
    } catch (err) {
      throw new TokenizerServerError(`model ${JSON.stringify(model)}: ${(err as Error).message}`);
    }
  };

  /** Stops the worker threads. */
  close(): Promise<void> {
    return this.#backend.close();
  }
}
