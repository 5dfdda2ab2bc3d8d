import {
  type CacheWarmth,
  formatTokenizerSource,
  NoTokenizerError,
  sourcesFor,
  type TokenizerSource,
  type TokenizerSourceMap,
} from "@inferd/kv-blocks";
import type { Logger } from "@inferd/service-kit";
import { type LocalTokenizerBackend, serverTokenize } from "@inferd/tokenizers";
import type { Prompt } from "../../framework/types.ts";
import type { Resolution, TokenizeJob } from "./job.ts";
import { WarmPrefixes } from "./warm-prefixes.ts";

/** Where a prompt was tokenised: the worker thread (`local`), the event loop (`inline`), a server. */
export type TokenizedWhere = "local" | "inline" | "server";

export interface TokenizerObserver {
  /** A tokenisation finished: where, and the milliseconds it took. */
  tokenized(model: string, where: TokenizedWhere, ms: number): void;
  /** A model routed without exact tokens, and why (`approximate` on purpose, `unavailable`, `failed`). */
  approximate(model: string, reason: "approximate" | "unavailable" | "failed"): void;
}

export interface ModelTokenizersOptions {
  readonly sources: TokenizerSourceMap;
  readonly backend: LocalTokenizerBackend;
  /** Base URL of a ready server of the model, for the `server` source. */
  readonly addressOf: (model: string) => string | undefined;
  readonly serverTimeoutMs: number;
  readonly logger: Logger;
  readonly observer?: TokenizerObserver;
  /**
   * Warm chat prefixes on the event loop (see WarmPrefixes): a tokenizer in this thread, and the
   * longest tokenisation (ms, as the worker measured it) after which this thread warms its own
   * caches for the prompt's prefix, from what the worker computed (no second tokenisation).
   * Absent: every prompt goes to `backend`.
   */
  readonly inline?: { readonly backend: PrimableBackend; readonly warmupMaxMs: number };
}

/** A tokenizer backend whose caches can take entries computed elsewhere (InlineBackend). */
export type PrimableBackend = LocalTokenizerBackend & {
  prime(model: string, sources: readonly TokenizerSource[], warmth: CacheWarmth): Promise<void>;
};

/** Prefixes remembered as warm on the event loop (well within the tokenizer cache's 16 Mi characters). */
const WARM_PREFIXES = 512;
/** An inline tokenisation slower than this was not warm (its cache entry was evicted): forget the prefix. */
const INLINE_SLOW_MS = 5;

function jobOf(prompt: Prompt): TokenizeJob | string {
  if (prompt.kind === "text") return { kind: "text", text: prompt.text };
  if (prompt.kind !== "chat") return "no text prompt";
  if (prompt.requestError !== undefined) return prompt.requestError;
  return {
    kind: "chat",
    chat: prompt.request ?? { messages: prompt.messages, addGenerationPrompt: prompt.addGenerationPrompt },
  };
}

/**
 * Each model's tokenizer, from its configured sources (kv-blocks TokenizerSource): a local tokenizer
 * (model directory, Hugging Face cache, npm Qwen3) run by the backend (worker threads by default),
 * the model server's /tokenize, or deliberately none ("approximate"). `tokenize` answers undefined
 * when the pick must do without exact tokens: the caller then routes with approximate prefixes.
 */
export class ModelTokenizers {
  private readonly opts: ModelTokenizersOptions;
  private readonly resolutions = new Map<string, Promise<Resolution>>();
  private readonly warned = new Set<string>();
  private readonly warm = new WarmPrefixes(WARM_PREFIXES);

  constructor(opts: ModelTokenizersOptions) {
    this.opts = opts;
  }

  /**
   * Resolves every model named in the configuration (not `*`) now: a named model whose sources all
   * fail is a start-up error (NoTokenizerError), never a silent mismatch at run time.
   */
  async start(): Promise<void> {
    for (const model of this.opts.sources.keys()) {
      if (model === "*") continue;
      const r = await this.resolution(model);
      if (r.kind === "error") throw new NoTokenizerError(model, [r.message]);
      await this.loadInline(model, r);
      this.opts.logger.info({ model, tokenizer: r.source }, "tokenizer ready");
    }
  }

  /**
   * Loads the event loop's own copy of a local tokenizer now (it blocks the loop while it parses the
   * tokenizer files), rather than at the first warm-up while picks are being served.
   */
  private async loadInline(model: string, r: Resolution): Promise<void> {
    if (r.kind !== "local" || this.opts.inline === undefined) return;
    await this.opts.inline.backend.resolve(model, this.sources(model));
  }

  /**
   * Loads the tokenizer of a model met at run time (e.g. the inventory's models at start-up), so the
   * first pick does not wait for it; logs what it resolved to.
   */
  async prepare(model: string): Promise<void> {
    if (this.resolutions.has(model)) return;
    try {
      const r = await this.resolution(model);
      if (r.kind === "error") this.fail(model, "unavailable", r.message);
      else {
        await this.loadInline(model, r);
        this.opts.logger.info({ model, tokenizer: r.source }, "tokenizer ready");
      }
    } catch (err) {
      this.fail(model, "failed", (err as Error).message);
    }
  }

  /** Chat prefixes currently tokenised on the event loop (see WarmPrefixes). */
  get warmPrefixes(): number {
    return this.warm.size;
  }

  private sources(model: string): readonly TokenizerSource[] {
    return sourcesFor(this.opts.sources, model);
  }

  private resolution(model: string): Promise<Resolution> {
    let r = this.resolutions.get(model);
    if (!r) {
      r = this.opts.backend.resolve(model, this.sources(model));
      this.resolutions.set(model, r);
      r.catch(() => this.resolutions.delete(model)); // e.g. a worker died: ask again next time
    }
    return r;
  }

  /** Token ids of the prompt as the model's server would compute them, or undefined (see class doc). */
  async tokenize(model: string, prompt: Prompt): Promise<Uint32Array | undefined> {
    const job = jobOf(prompt);
    if (typeof job === "string") {
      if (prompt.kind === "chat") this.fail(model, "failed", `chat request unusable: ${job}`);
      return undefined;
    }
    try {
      const r = await this.resolution(model);
      switch (r.kind) {
        case "local":
          return await this.local(model, job);
        case "server": {
          const address = this.opts.addressOf(model);
          if (address === undefined) throw new Error("no ready server of the model to ask /tokenize");
          const t0 = performance.now();
          const render = r.source === "server-render";
          const ids = await serverTokenize(address, model, job, this.opts.serverTimeoutMs, render);
          this.opts.observer?.tokenized(model, "server", performance.now() - t0);
          return ids;
        }
        case "approximate":
          this.opts.observer?.approximate(model, "approximate");
          return undefined;
        default:
          this.fail(model, "unavailable", r.message);
          return undefined;
      }
    } catch (err) {
      this.fail(model, "failed", (err as Error).message);
      return undefined;
    }
  }

  /**
   * A warm prefix on the event loop, anything else in the backend (worker threads); when the worker
   * tokenised a chat with a prefix cheaply enough, it also hands back the segments it used and the
   * words it memoised since (ChatTokenizer.withWarmth), and this thread's tokenizer takes them into
   * its caches after this pick's reply (setImmediate), so the next request with that prefix stays on
   * the loop. Priming copies cache entries: a fraction of a millisecond where tokenising the prompt a
   * second time cost the loop the worker's whole time (~2.5-3.5 ms for a new 6k-token prefix).
   */
  private async local(model: string, job: TokenizeJob): Promise<Uint32Array> {
    const inline = this.opts.inline;
    const sources = this.sources(model);
    const key = inline ? WarmPrefixes.keyOf(model, job) : undefined;
    if (inline && key !== undefined && this.warm.has(key)) {
      const t0 = performance.now();
      const { ids } = await inline.backend.encode(model, sources, job);
      const ms = performance.now() - t0;
      if (ms > INLINE_SLOW_MS) this.warm.delete(key);
      this.opts.observer?.tokenized(model, "inline", ms);
      return ids;
    }
    const warmable = inline !== undefined && key !== undefined;
    const { ids, ms, warmth } = await this.opts.backend.encode(model, sources, job, { warmth: warmable });
    this.opts.observer?.tokenized(model, "local", ms);
    if (inline && key !== undefined && warmth !== undefined) {
      // Primed even when the worker was too slow for the prefix to count as warm: the words it
      // memoised are handed over only once, and the loop's next inline encodes need them.
      const warm = ms <= inline.warmupMaxMs;
      setImmediate(() => {
        inline.backend.prime(model, sources, warmth).then(
          () => {
            if (warm) this.warm.add(key);
          },
          () => {},
        );
      });
    }
    return ids;
  }

  private fail(model: string, reason: "unavailable" | "failed", message: string): void {
    this.opts.observer?.approximate(model, reason);
    // Loud once per model and reason (an error log per pick would drown everything else).
    const key = `${model}\n${reason}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.opts.logger.error(
      { model, reason, sources: this.sources(model).map(formatTokenizerSource) },
      `no exact tokens for this model, routing it with approximate prefixes: ${message}`,
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.opts.backend.close(), this.opts.inline?.backend.close()]);
  }
}
