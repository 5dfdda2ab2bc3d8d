import type {
  CacheWarmth,
  ChatRequest,
  ChatTokenizer,
  ResolvedTokenizer,
  TokenizerLoader,
  TokenizerSource,
} from "@inferd/kv-blocks";

/** One tokenisation: a completions prompt (special tokens added, as vLLM does) or a whole chat request. */
export type TokenizeJob =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "chat"; readonly chat: ChatRequest };

/** What a model's sources resolved to, as plain data (it crosses the worker boundary). */
export type Resolution =
  | { readonly kind: "local" | "server" | "approximate"; readonly source: string }
  | { readonly kind: "error"; readonly message: string };

/** Runs a job on a local tokenizer. */
export function runJob(tok: ChatTokenizer, job: TokenizeJob): Uint32Array {
  return job.kind === "text" ? tok.encodeCompletion(job.text) : tok.encodeChatRequest(job.chat);
}

/** Resolves a model's sources once per model, keeping the local tokenizer for the jobs. */
export class ModelResolver {
  private readonly loader: TokenizerLoader;
  private readonly byModel = new Map<string, Promise<ResolvedTokenizer>>();

  constructor(loader: TokenizerLoader) {
    this.loader = loader;
  }

  resolved(model: string, sources: readonly TokenizerSource[]): Promise<ResolvedTokenizer> {
    let p = this.byModel.get(model);
    if (!p) {
      p = this.loader.resolve(model, sources);
      this.byModel.set(model, p);
    }
    return p;
  }

  async resolution(model: string, sources: readonly TokenizerSource[]): Promise<Resolution> {
    try {
      const r = await this.resolved(model, sources);
      return { kind: r.kind, source: r.source };
    } catch (err) {
      return { kind: "error", message: (err as Error).message };
    }
  }

  async encode(model: string, sources: readonly TokenizerSource[], job: TokenizeJob): Promise<Uint32Array> {
    return runJob(await this.local(model, sources), job);
  }

  /** `encode`, with what another thread's tokenizer needs to be as warm (ChatTokenizer.withWarmth). */
  async encodeWithWarmth(
    model: string,
    sources: readonly TokenizerSource[],
    job: TokenizeJob,
  ): Promise<{ ids: Uint32Array; warmth: CacheWarmth }> {
    const tok = await this.local(model, sources);
    const { result, warmth } = tok.withWarmth(() => runJob(tok, job));
    return { ids: result, warmth };
  }

  /** Adds another thread's cache entries (`encodeWithWarmth`) to this model's tokenizer. */
  async prime(model: string, sources: readonly TokenizerSource[], warmth: CacheWarmth): Promise<void> {
    (await this.local(model, sources)).prime(warmth);
  }

  /** The model's local tokenizer; throws NoLocalTokenizerError when its sources give none here. */
  async local(model: string, sources: readonly TokenizerSource[]): Promise<ChatTokenizer> {
    let r: ResolvedTokenizer;
    try {
      r = await this.resolved(model, sources);
    } catch (err) {
      throw new NoLocalTokenizerError(model, (err as Error).message);
    }
    if (r.kind !== "local") throw new NoLocalTokenizerError(model, `its tokenizer source is ${r.source}`);
    return r.tokenizer;
  }
}

/**
 * A model's sources give no tokenizer in this process: deliberately (`approximate`, or `server`, the
 * model server's /tokenize, which only the scorer calls) or because none was usable. The message
 * says which; a caller answers it explicitly rather than tokenising with another model's tokenizer.
 */
export class NoLocalTokenizerError extends Error {
  override readonly name = "NoLocalTokenizerError";
  readonly model: string;
  constructor(model: string, reason: string) {
    super(`model ${JSON.stringify(model)} has no tokenizer here: ${reason}`);
    this.model = model;
  }
}
