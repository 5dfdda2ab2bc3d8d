import type {
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
    const r = await this.resolved(model, sources);
    if (r.kind !== "local") throw new Error(`model ${model} has no local tokenizer (${r.kind})`);
    return runJob(r.tokenizer, job);
  }
}
