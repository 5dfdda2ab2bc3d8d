import type { Histogram } from "prom-client";
import type { ApplyOptions, BlockIndex, IndexOp, Tier } from "./block-index.ts";

/**
 * Wraps any BlockIndex and times every operation into
 * `inferd_kv_index_operation_duration_seconds{backend, op}` (a decorator, as llm-d's
 * NewInstrumentedIndex): backends stay free of metrics code.
 */
export class InstrumentedBlockIndex implements BlockIndex {
  readonly #inner: BlockIndex;
  readonly #histogram: Histogram<"backend" | "op">;

  constructor(inner: BlockIndex, histogram: Histogram<"backend" | "op">) {
    this.#inner = inner;
    this.#histogram = histogram;
  }

  get backend(): string {
    return this.#inner.backend;
  }

  /** The wrapped index. */
  get inner(): BlockIndex {
    return this.#inner;
  }

  async #timed<T>(op: string, run: () => Promise<T>): Promise<T> {
    const end = this.#histogram.startTimer({ backend: this.#inner.backend, op });
    try {
      return await run();
    } finally {
      end();
    }
  }

  lookup(model: string, requestKeys: readonly bigint[], engines?: ReadonlySet<string>) {
    return this.#timed("lookup", () => this.#inner.lookup(model, requestKeys, engines));
  }
  add(
    model: string,
    engine: string,
    tier: Tier,
    engineKeys: readonly bigint[] | null,
    requestKeys: readonly bigint[],
  ) {
    return this.#timed("add", () => this.#inner.add(model, engine, tier, engineKeys, requestKeys));
  }
  evict(model: string, engine: string, tier: Tier, engineKeys: readonly bigint[]) {
    return this.#timed("evict", () => this.#inner.evict(model, engine, tier, engineKeys));
  }
  requestKeysFor(model: string, engine: string, engineKeys: readonly bigint[]) {
    return this.#timed("request_keys_for", () => this.#inner.requestKeysFor(model, engine, engineKeys));
  }
  clear(model: string, engine: string) {
    return this.#timed("clear", () => this.#inner.clear(model, engine));
  }
  apply(model: string, engine: string, ops: readonly IndexOp[], options?: ApplyOptions) {
    return this.#timed("apply", () => this.#inner.apply(model, engine, ops, options));
  }
  forget(model: string, engine: string) {
    return this.#timed("forget", () => this.#inner.forget(model, engine));
  }
  checkpoint(model: string, engine: string) {
    return this.#timed("checkpoint", () => this.#inner.checkpoint(model, engine));
  }
  models() {
    return this.#inner.models();
  }
  engines(model: string) {
    return this.#inner.engines(model);
  }
  snapshot(model: string, engine: string) {
    return this.#inner.snapshot(model, engine);
  }
  size() {
    return this.#inner.size();
  }
  generation() {
    return this.#inner.generation();
  }
  setGeneration(id: string) {
    return this.#inner.setGeneration(id);
  }
  reset() {
    return this.#timed("reset", () => this.#inner.reset());
  }
  close() {
    return this.#inner.close();
  }
}
