import type { KvEventBatch } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import { type BlockIndex, engineId, type IndexOp, parseEngineId } from "./block-index.ts";
import { batchesAfter } from "./merged.ts";
import { type Anomaly, planBatch, type RulesFor } from "./plan.ts";

export interface IndexerOptions {
  /** Index block size (tokens per block), the one lookups use. */
  blockSize: number;
  /** vLLM rules per model pool (default: current vLLM for every model). */
  rulesFor?: RulesFor;
  /** Engine-key -> request-key mappings kept in process per engine, to skip a store round trip (default 8192). */
  mappingCacheSize?: number;
  /** Anomalies are logged at most once per kind per pod per this period (default 60 s). */
  anomalyLogIntervalMs?: number;
}

/**
 * The counters the indexer feeds (prom-client Counters and a Histogram in practice; each user
 * names them under its own prefix).
 */
export interface IndexerMetrics {
  indexerBatches: { inc(labels: { result: string }, value?: number): void };
  indexerBlocks: { inc(labels: { op: string }, value?: number): void };
  indexerAnomalies: { inc(labels: { kind: string }, value?: number): void };
  indexerLag: { observe(seconds: number): void };
  podPurges: { inc(): void };
}

export type BatchOutcome = "applied" | "duplicate" | "redelivered" | "purged";

/**
 * The store holds an older checkpoint for an engine than this indexer wrote: writes it
 * acknowledged are gone (a Redis primary failed over before replicating them). Nothing of the
 * batch was written; the caller replays the stream from `replayFrom` (`lostWrites()` gives the
 * point for every engine at once).
 */
export class StoreLostWritesError extends Error {
  readonly replayFrom: bigint;
  constructor(model: string, engine: string, stored: bigint | undefined, expected: bigint) {
    super(
      `index store lost acknowledged writes of ${model} ${engine}: checkpoint ${stored ?? "none"}, expected ${expected}`,
    );
    this.name = "StoreLostWritesError";
    this.replayFrom = (stored ?? 0n) + 1n;
  }
}

/**
 * Engine hash -> request key, bounded. The mapping is a function of the block's content chain,
 * so an entry never goes stale; the bound is kept with two generations (a full young map becomes
 * the old one, the previous old one is dropped): O(1), no per-entry bookkeeping.
 */
class MappingCache {
  readonly #cap: number;
  #young = new Map<bigint, bigint>();
  #old = new Map<bigint, bigint>();

  constructor(capacity: number) {
    this.#cap = Math.max(1, Math.floor(capacity / 2));
  }

  get(ek: bigint): bigint | undefined {
    return this.#young.get(ek) ?? this.#old.get(ek);
  }

  set(ek: bigint, rk: bigint): void {
    if (this.#young.size >= this.#cap) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(ek, rk);
  }
}

/** One message of the stream. */
export interface StreamBatch {
  batch: KvEventBatch;
  streamSeq: bigint;
}

/** What this indexer knows about an engine: last stream message applied, last engine batch. */
interface EngineProgress {
  checkpoint: bigint | undefined;
  cursor: EngineCursor | undefined;
}

function isLeftInventory(batch: KvEventBatch): boolean {
  return batch.events.some((e) => e.event.case === "podReset" && e.event.value.reason === "left_inventory");
}

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
 *
 * And no write past a hole: each write says which checkpoint it follows (`after`), so when the
 * store lost acknowledged writes (Redis replicates asynchronously; a failover can promote a
 * replica that missed the last ones) the next write is refused and `StoreLostWritesError` asks
 * for a replay from the stored checkpoint, which restores exactly what was lost.
 */
export class Indexer {
  readonly #index: BlockIndex;
  readonly #metrics: IndexerMetrics;
  readonly #logger: Logger;
  readonly #blockSize: number;
  readonly #rulesFor: RulesFor | undefined;
  readonly #cacheSize: number;
  readonly #anomalyLogMs: number;
  readonly #states = new Map<string, EngineProgress>();
  readonly #mappings = new Map<string, MappingCache>();
  readonly #anomalyLoggedAt = new Map<string, number>();

  constructor(index: BlockIndex, deps: { metrics: IndexerMetrics; logger: Logger }, options: IndexerOptions) {
    this.#index = index;
    this.#metrics = deps.metrics;
    this.#logger = deps.logger;
    this.#blockSize = options.blockSize;
    this.#rulesFor = options.rulesFor;
    this.#cacheSize = options.mappingCacheSize ?? 8_192;
    this.#anomalyLogMs = options.anomalyLogIntervalMs ?? 60_000;
  }

  get index(): BlockIndex {
    return this.#index;
  }

  /** Applies one batch read from the stream at `streamSeq`. */
  async handle(batch: KvEventBatch, streamSeq: bigint, nowMs = Date.now()): Promise<BatchOutcome> {
    return (await this.handleMany([{ batch, streamSeq }], nowMs))[0]!;
  }

  /**
   * Applies consecutive stream messages of one pod (in stream order). The batches of each
   * engine are planned in order and written in ONE atomic index call: fewer round trips, and
   * the engine's checkpoint moves to the last message only once everything before is in.
   */
  async handleMany(items: readonly StreamBatch[], nowMs = Date.now()): Promise<BatchOutcome[]> {
    const outcomes = new Array<BatchOutcome>(items.length);
    let i = 0;
    while (i < items.length) {
      const first = items[i]!;
      if (isLeftInventory(first.batch)) {
        await this.purgePod(first.batch.model, first.batch.pod);
        this.#metrics.indexerBatches.inc({ result: "purged" });
        outcomes[i++] = "purged";
        continue;
      }
      let j = i;
      const groups = new Map<string, number[]>();
      while (j < items.length && !isLeftInventory(items[j]!.batch)) {
        const b = items[j]!.batch;
        const key = `${b.model}\n${engineId(b.pod, b.dataParallelRank)}`;
        let idx = groups.get(key);
        if (!idx) {
          idx = [];
          groups.set(key, idx);
        }
        idx.push(j++);
      }
      await Promise.all(
        [...groups.values()].map(async (idx) => {
          const results = await this.#applyEngine(
            idx.map((k) => items[k]!),
            nowMs,
          );
          idx.forEach((k, n) => {
            outcomes[k] = results[n]!;
          });
        }),
      );
      i = j;
    }
    return outcomes;
  }

  async #applyEngine(items: readonly StreamBatch[], nowMs: number): Promise<BatchOutcome[]> {
    const { model, pod, dataParallelRank } = items[0]!.batch;
    const engine = engineId(pod, dataParallelRank);
    const key = `${model}\n${engine}`;
    const state = await this.#state(model, engine, key);
    const ops: IndexOp[] = [];
    const outcomes: BatchOutcome[] = [];
    let cursor = state.cursor;
    let stored = 0;
    let removed = 0;
    let lastSeq = state.checkpoint;
    const lags: number[] = [];
    for (const item of items) {
      const { streamSeq } = item;
      let { batch } = item;
      if (state.checkpoint !== undefined && streamSeq <= state.checkpoint) {
        outcomes.push("redelivered");
        continue;
      }
      lastSeq = streamSeq;
      if (cursor && batch.firstSeq !== undefined && batch.firstSeq <= cursor.seq && batch.seq > cursor.seq) {
        // A merged message overlapping batches already applied (merged differently by another
        // ingest): only its batches after the cursor are new. Same engine life, as for any
        // message whose seq is past the cursor.
        const rest = batchesAfter(batch, cursor.seq);
        if (rest) batch = rest;
        else
          this.#anomaly(
            "unsplittable_overlap",
            pod,
            `seq ${batch.firstSeq}..${batch.seq} over ${cursor.seq}`,
          );
      }
      const reset = batch.events.some((e) => e.event.case === "podReset");
      let next: EngineCursor | undefined = { seq: batch.seq, ts: batch.tsSeconds };
      if (reset) {
        // Whatever comes next starts a new engine life (its seq restarts at 0).
        next = undefined;
      } else if (cursor && batch.seq <= cursor.seq) {
        if (batch.tsSeconds <= cursor.ts) {
          outcomes.push("duplicate");
          continue;
        }
        this.#logger.warn(
          { model, pod, rank: dataParallelRank, seq: String(batch.seq), last: String(cursor.seq) },
          "engine sequence restarted without a PodReset; clearing the engine",
        );
        ops.push({ kind: "clear" });
        this.#mappings.delete(key);
      }
      if (reset || batch.events.some((e) => e.event.case === "allBlocksCleared")) this.#mappings.delete(key);
      const mappings = this.#mappingsOf(key);
      const plan = await planBatch(batch, {
        blockSize: this.#blockSize,
        rulesFor: this.#rulesFor,
        resolve: async (engineKeys) => {
          const cached = engineKeys.map((k) => mappings.get(k));
          const missing = engineKeys.filter((_, n) => cached[n] === undefined);
          if (missing.length === 0) return cached;
          const found = await this.#index.requestKeysFor(model, engine, missing);
          let n = 0;
          return cached.map((c) => c ?? found[n++]);
        },
        learn: (ek, rk) => this.#learn(mappings, ek, rk),
        onAnomaly: (kind, detail) => this.#anomaly(kind, pod, detail),
      });
      ops.push(...plan.ops);
      stored += plan.storedBlocks;
      removed += plan.removedBlocks;
      cursor = next;
      outcomes.push("applied");
      if (batch.receivedUnixMs > 0n) lags.push(Math.max(0, (nowMs - Number(batch.receivedUnixMs)) / 1000));
    }
    for (const o of outcomes) if (o !== "applied") this.#metrics.indexerBatches.inc({ result: o });
    if (lastSeq === state.checkpoint || lastSeq === undefined) return outcomes;
    const applied = await this.#index.apply(model, engine, ops, {
      checkpoint: lastSeq,
      meta: cursor ? formatCursor(cursor) : "",
      ...(state.checkpoint !== undefined ? { after: state.checkpoint } : {}),
    });
    if (!applied && state.checkpoint !== undefined) {
      const stored = (await this.#index.checkpoint(model, engine))?.seq;
      if (stored === undefined || stored < state.checkpoint) {
        // The state stays: `lostWrites()` still sees this engine until the replay resets it.
        throw new StoreLostWritesError(model, engine, stored, state.checkpoint);
      }
    }
    if (!applied) {
      // Another writer (an earlier life of this indexer) got there first: reload next time.
      this.#states.delete(key);
      this.#metrics.indexerBatches.inc(
        { result: "redelivered" },
        outcomes.filter((o) => o === "applied").length,
      );
      return outcomes.map((o) => (o === "applied" ? "redelivered" : o));
    }
    state.checkpoint = lastSeq;
    state.cursor = cursor;
    this.#metrics.indexerBatches.inc({ result: "applied" }, outcomes.filter((o) => o === "applied").length);
    if (stored > 0) this.#metrics.indexerBlocks.inc({ op: "stored" }, stored);
    if (removed > 0) this.#metrics.indexerBlocks.inc({ op: "removed" }, removed);
    for (const lag of lags) this.#metrics.indexerLag.observe(lag);
    return outcomes;
  }

  /** Forgets every engine (all DP ranks) of a pod that left the inventory. */
  async purgePod(model: string, pod: string): Promise<void> {
    for (const engine of await this.#index.engines(model)) {
      if (parseEngineId(engine).pod !== pod) continue;
      await this.#index.forget(model, engine);
      this.#states.delete(`${model}\n${engine}`);
      this.#mappings.delete(`${model}\n${engine}`);
    }
    this.#metrics.podPurges.inc();
    this.#logger.info({ model, pod }, "pod left the inventory; its index entries are purged");
  }

  /**
   * Where to replay the stream from so that the store gets back every write it acknowledged and
   * then lost (undefined: nothing lost). Compares each engine's checkpoint this indexer wrote
   * with the stored one; reads the in-process one first, so a write finishing meanwhile can
   * only make the stored one newer, never a false alarm.
   */
  async lostWrites(): Promise<bigint | undefined> {
    const known = [...this.#states].filter(([, s]) => s.checkpoint !== undefined);
    let from: bigint | undefined;
    await Promise.all(
      known.map(async ([key, s]) => {
        const written = s.checkpoint!;
        const [model, engine] = key.split("\n") as [string, string];
        const stored = (await this.#index.checkpoint(model, engine))?.seq;
        // Forgotten meanwhile (the pod left the inventory): not a loss.
        if (this.#states.get(key) !== s) return;
        if (stored !== undefined && stored >= written) return;
        const at = (stored ?? 0n) + 1n;
        if (from === undefined || at < from) from = at;
      }),
    );
    return from;
  }

  /** Drops in-process caches (after the store was reset or rebuilt). */
  resetCaches(): void {
    this.#states.clear();
    this.#mappings.clear();
  }

  async #state(model: string, engine: string, key: string): Promise<EngineProgress> {
    let state = this.#states.get(key);
    if (!state) {
      const stored = await this.#index.checkpoint(model, engine);
      state = { checkpoint: stored?.seq, cursor: parseCursor(stored?.meta) };
      this.#states.set(key, state);
    }
    return state;
  }

  #mappingsOf(key: string): MappingCache {
    let m = this.#mappings.get(key);
    if (!m) {
      m = new MappingCache(this.#cacheSize);
      this.#mappings.set(key, m);
    }
    return m;
  }

  #learn(mappings: MappingCache, ek: bigint, rk: bigint): void {
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
