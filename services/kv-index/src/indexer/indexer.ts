import type { KvEventBatch } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import { type BlockIndex, engineId, type IndexOp, parseEngineId } from "../index/block-index.ts";
import type { KvIndexMetrics } from "../metrics.ts";
import { type Anomaly, planBatch } from "./plan.ts";

export interface IndexerOptions {
  /** Index block size (tokens per block), the one lookups use. */
  blockSize: number;
  /** Engine-key -> request-key mappings kept in process per engine, to skip a store round trip (default 50 000). */
  mappingCacheSize?: number;
  /** Anomalies are logged at most once per kind per pod per this period (default 60 s). */
  anomalyLogIntervalMs?: number;
}

export type BatchOutcome = "applied" | "duplicate" | "redelivered" | "purged";

/** Position of an engine's last applied batch, stored with the index (checkpoint meta). */
interface EngineCursor {
  seq: bigint;
  ts: number;
}

function formatCursor(c: EngineCursor): string {
  return `${c.seq}:${c.ts}`;
}

function parseCursor(meta: string | undefined): EngineCursor | undefined {
  if (!meta) return undefined;
  const [seq, ts] = meta.split(":");
  if (seq === undefined || ts === undefined || !/^\d+$/.test(seq)) return undefined;
  return { seq: BigInt(seq), ts: Number(ts) };
}

/**
 * Applies normalised batches to a BlockIndex. The caller feeds one engine's batches in stream
 * order (batches of different pods may run concurrently) with the stream sequence of each.
 *
 * Exactly-once, whatever the source of a repeat:
 *  - a redelivered stream message is refused by the index's checkpoint guard (atomic with the writes);
 *  - a batch published twice (replay overlapping live traffic, an ingest restart replaying from 0)
 *    has an engine seq at or below the last applied one and a timestamp not after it: skipped;
 *  - a lower seq with a later timestamp is a restarted engine whose PodReset was not seen
 *    (e.g. ingest was down): the engine is cleared first.
 */
export class Indexer {
  readonly #index: BlockIndex;
  readonly #metrics: KvIndexMetrics;
  readonly #logger: Logger;
  readonly #blockSize: number;
  readonly #cacheSize: number;
  readonly #anomalyLogMs: number;
  readonly #cursors = new Map<string, EngineCursor | null>();
  readonly #mappings = new Map<string, Map<bigint, bigint>>();
  readonly #anomalyLoggedAt = new Map<string, number>();

  constructor(index: BlockIndex, deps: { metrics: KvIndexMetrics; logger: Logger }, options: IndexerOptions) {
    this.#index = index;
    this.#metrics = deps.metrics;
    this.#logger = deps.logger;
    this.#blockSize = options.blockSize;
    this.#cacheSize = options.mappingCacheSize ?? 50_000;
    this.#anomalyLogMs = options.anomalyLogIntervalMs ?? 60_000;
  }

  get index(): BlockIndex {
    return this.#index;
  }

  /** Applies one batch read from the stream at `streamSeq`. */
  async handle(batch: KvEventBatch, streamSeq: bigint, nowMs = Date.now()): Promise<BatchOutcome> {
    const { model, pod } = batch;
    const reset = batch.events.find((e) => e.event.case === "podReset")?.event.value;
    if (reset && "reason" in reset && reset.reason === "left_inventory") {
      await this.purgePod(model, pod);
      this.#metrics.indexerBatches.inc({ result: "purged" });
      return "purged";
    }
    const engine = engineId(pod, batch.dataParallelRank);
    const key = `${model}\n${engine}`;
    const cursor = await this.#cursor(model, engine, key);
    const ops: IndexOp[] = [];
    let next: EngineCursor | null = { seq: batch.seq, ts: batch.tsSeconds };
    if (reset) {
      // Whatever comes next starts a new engine life (its seq restarts at 0).
      next = null;
    } else if (cursor && batch.seq <= cursor.seq) {
      if (batch.tsSeconds <= cursor.ts) {
        this.#metrics.indexerBatches.inc({ result: "duplicate" });
        return "duplicate";
      }
      this.#logger.warn(
        { model, pod, rank: batch.dataParallelRank, seq: String(batch.seq), last: String(cursor.seq) },
        "engine sequence restarted without a PodReset; clearing the engine",
      );
      ops.push({ kind: "clear" });
      this.#mappings.delete(key);
    }
    if (ops.length > 0 || reset || batch.events.some((e) => e.event.case === "allBlocksCleared")) {
      this.#mappings.delete(key);
    }
    const mappings = this.#mappingsOf(key);
    const plan = await planBatch(batch, {
      blockSize: this.#blockSize,
      resolve: async (engineKeys) => {
        const cached = engineKeys.map((k) => mappings.get(k));
        const missing = engineKeys.filter((_, i) => cached[i] === undefined);
        if (missing.length === 0) return cached;
        const found = await this.#index.requestKeysFor(model, engine, missing);
        let j = 0;
        return cached.map((c) => c ?? found[j++]);
      },
      learn: (ek, rk) => this.#learn(mappings, ek, rk),
      onAnomaly: (kind, detail) => this.#anomaly(kind, pod, detail),
    });
    ops.push(...plan.ops);
    const applied = await this.#index.apply(model, engine, ops, {
      checkpoint: streamSeq,
      meta: next ? formatCursor(next) : "",
    });
    if (!applied) {
      // Someone (an earlier life of this process) already applied it: our cache may be stale.
      this.#cursors.delete(key);
      this.#metrics.indexerBatches.inc({ result: "redelivered" });
      return "redelivered";
    }
    this.#cursors.set(key, next);
    this.#metrics.indexerBatches.inc({ result: "applied" });
    if (plan.storedBlocks > 0) this.#metrics.indexerBlocks.inc({ op: "stored" }, plan.storedBlocks);
    if (plan.removedBlocks > 0) this.#metrics.indexerBlocks.inc({ op: "removed" }, plan.removedBlocks);
    if (batch.receivedUnixMs > 0n) {
      this.#metrics.indexerLag.observe(Math.max(0, (nowMs - Number(batch.receivedUnixMs)) / 1000));
    }
    return "applied";
  }

  /** Forgets every engine (all DP ranks) of a pod that left the inventory. */
  async purgePod(model: string, pod: string): Promise<void> {
    for (const engine of await this.#index.engines(model)) {
      if (parseEngineId(engine).pod !== pod) continue;
      await this.#index.forget(model, engine);
      this.#cursors.delete(`${model}\n${engine}`);
      this.#mappings.delete(`${model}\n${engine}`);
    }
    this.#metrics.podPurges.inc();
    this.#logger.info({ model, pod }, "pod left the inventory; its index entries are purged");
  }

  /** Drops in-process caches (after the store was reset or rebuilt). */
  resetCaches(): void {
    this.#cursors.clear();
    this.#mappings.clear();
  }

  async #cursor(model: string, engine: string, key: string): Promise<EngineCursor | undefined> {
    if (this.#cursors.has(key)) return this.#cursors.get(key) ?? undefined;
    const stored = await this.#index.checkpoint(model, engine);
    const cursor = parseCursor(stored?.meta);
    this.#cursors.set(key, cursor ?? null);
    return cursor;
  }

  #mappingsOf(key: string): Map<bigint, bigint> {
    let m = this.#mappings.get(key);
    if (!m) {
      m = new Map();
      this.#mappings.set(key, m);
    }
    return m;
  }

  #learn(mappings: Map<bigint, bigint>, ek: bigint, rk: bigint): void {
    // Engine hash -> request key is a function of the block's content chain, so an entry never
    // goes stale; the cache is only bounded (oldest first).
    if (mappings.size >= this.#cacheSize) {
      const oldest = mappings.keys().next();
      if (!oldest.done) mappings.delete(oldest.value);
    }
    mappings.set(ek, rk);
  }

  #anomaly(kind: Anomaly, pod: string, detail: string): void {
    this.#metrics.indexerAnomalies.inc({ kind });
    const key = `${kind}\n${pod}`;
    const now = Date.now();
    const last = this.#anomalyLoggedAt.get(key);
    if (last !== undefined && now - last < this.#anomalyLogMs) return;
    this.#anomalyLoggedAt.set(key, now);
    this.#logger.warn(
      { pod, kind, detail },
      "kv event indexed in a degraded way (logged once a minute per pod and kind)",
    );
  }
}
