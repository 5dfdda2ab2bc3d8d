import { Worker } from "node:worker_threads";
import { type CacheWarmth, TokenizerLoader, type TokenizerSource } from "@inferd/kv-blocks";
import { ModelResolver, type Resolution, type TokenizeJob } from "./resolver.ts";

/** Where local tokenizers run: in this thread, or in worker threads. */
export interface LocalTokenizerBackend {
  resolve(model: string, sources: readonly TokenizerSource[]): Promise<Resolution>;
  /**
   * Token ids, and the CPU milliseconds the tokenisation itself took; with `warmth`, also the cache
   * entries (ChatTokenizer.withWarmth) to `prime` a tokenizer in another thread with.
   */
  encode(
    model: string,
    sources: readonly TokenizerSource[],
    job: TokenizeJob,
    opts?: { warmth?: boolean },
  ): Promise<{ ids: Uint32Array; ms: number; warmth?: CacheWarmth }>;
  close(): Promise<void>;
}

/** Tokenises on the calling thread (workers: 0): simplest, but a long prompt blocks the event loop. */
export class InlineBackend implements LocalTokenizerBackend {
  private readonly resolver = new ModelResolver(new TokenizerLoader());
  resolve(model: string, sources: readonly TokenizerSource[]): Promise<Resolution> {
    return this.resolver.resolution(model, sources);
  }
  async encode(
    model: string,
    sources: readonly TokenizerSource[],
    job: TokenizeJob,
    opts: { warmth?: boolean } = {},
  ): Promise<{ ids: Uint32Array; ms: number; warmth?: CacheWarmth }> {
    const t0 = performance.now();
    if (opts.warmth === true) {
      const { ids, warmth } = await this.resolver.encodeWithWarmth(model, sources, job);
      return { ids, ms: performance.now() - t0, warmth };
    }
    const ids = await this.resolver.encode(model, sources, job);
    return { ids, ms: performance.now() - t0 };
  }
  /** Adds cache entries a tokenizer of the same model computed elsewhere (a worker) to this thread's. */
  prime(model: string, sources: readonly TokenizerSource[], warmth: CacheWarmth): Promise<void> {
    return this.resolver.prime(model, sources, warmth);
  }
  async close(): Promise<void> {}
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/**
 * A fixed set of worker threads. A model always goes to the same worker, so its tokenizer is loaded
 * once per worker that serves it and its prefix cache sees every prompt of that model.
 */
export class WorkerPoolBackend implements LocalTokenizerBackend {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, (_, i) => this.spawn(i));
  }

  /** Starts worker `i`; one that dies fails its pending calls and is replaced (its cache starts empty). */
  private spawn(i: number): Worker {
    const w = new Worker(new URL("./worker.ts", import.meta.url));
    w.unref();
    w.on("message", (m: { id: number; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m);
    });
    w.on("error", (err) => this.failAll(err));
    w.on("exit", (code) => {
      if (this.closed) return;
      this.failAll(new Error(`tokenizer worker exited (${code})`));
      this.workers[i] = this.spawn(i);
    });
    return w;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private workerFor(model: string): Worker {
    let h = 0;
    for (let i = 0; i < model.length; i++) h = (h * 31 + model.charCodeAt(i)) >>> 0;
    return this.workers[h % this.workers.length]!;
  }

  private call<T>(model: string, msg: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(new Error("tokenizer workers closed"));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.workerFor(model).postMessage({ id, model, ...msg });
    });
  }

  async resolve(model: string, sources: readonly TokenizerSource[]): Promise<Resolution> {
    return (await this.call<{ resolution: Resolution }>(model, { op: "resolve", sources })).resolution;
  }

  encode(
    model: string,
    sources: readonly TokenizerSource[],
    job: TokenizeJob,
    opts: { warmth?: boolean } = {},
  ) {
    return this.call<{ ids: Uint32Array; ms: number; warmth?: CacheWarmth }>(model, {
      op: "encode",
      sources,
      job,
      ...(opts.warmth === true ? { warmth: true } : {}),
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error("tokenizer workers closed"));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** The backend a `tokenizerWorkers` setting asks for: that many worker threads, or inline for 0. */
export function localTokenizerBackend(workers: number): LocalTokenizerBackend {
  return workers > 0 ? new WorkerPoolBackend(workers) : new InlineBackend();
}
