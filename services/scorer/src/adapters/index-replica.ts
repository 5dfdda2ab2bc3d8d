import {
  type BlockIndex,
  Indexer,
  type IndexerMetrics,
  InMemoryBlockIndex,
  type RulesFor,
  type StreamBatch,
} from "@inferd/block-index";
import {
  DeliverPolicy,
  decodeMessage,
  type JsMsg,
  jetStreamClient,
  jetstreamManager,
  type NatsConnection,
} from "@inferd/bus";
import { KvEventBatchSchema, subjects as subjectsOf } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { KvLookupAnswer, KvLookupQuery } from "../framework/handle.ts";
import { bootstrapReplica } from "../replica/bootstrap.ts";
import { RequestKeyCache } from "../replica/key-cache.ts";
import { replicaLookup } from "../replica/lookup.ts";

export interface IndexReplicaOptions {
  prefix: string;
  /** Tokens per block: must equal kv-index's `block_size`. */
  blockSize: number;
  /** Bound on blocks per engine (0 = none); past it an engine's NEW blocks are dropped, counted. */
  maxBlocksPerEngine: number;
  /**
   * vLLM rules per model pool, as kv-index's (`vllmVersionFields`): the replica must derive the same
   * request keys from events without extra keys, and from LoRA / salted lookups. Default: current vLLM.
   */
  rulesFor?: RulesFor;
  /** The shared index kv-index writes (Redis), read once at start; undefined = replay the stream. */
  bootstrapFrom: (() => BlockIndex) | undefined;
  logger: Logger;
  registry: Registry;
}

export interface IndexReplica {
  /** True once the stream was read up to where it stood at start (then lookups use the replica). */
  readonly ready: boolean;
  readonly index: InMemoryBlockIndex;
  /** The prefix match of a token-id query, from process memory. */
  lookup(q: KvLookupQuery & { tokens: ArrayLike<number> }): KvLookupAnswer;
  stop(): Promise<void>;
}

function replicaMetrics(registry: Registry, index: InMemoryBlockIndex) {
  const r = [registry];
  const indexer: IndexerMetrics = {
    indexerBatches: new Counter({
      name: "inferd_scorer_index_replica_batches_total",
      help: "KV event batches the index replica read, by result (applied, duplicate, redelivered, purged).",
      labelNames: ["result"],
      registers: r,
    }),
    indexerBlocks: new Counter({
      name: "inferd_scorer_index_replica_blocks_total",
      help: "Blocks stored and removed by the index replica.",
      labelNames: ["op"],
      registers: r,
    }),
    indexerAnomalies: new Counter({
      name: "inferd_scorer_index_replica_anomalies_total",
      help: "KV events the index replica indexed in a degraded way or skipped, by kind.",
      labelNames: ["kind"],
      registers: r,
    }),
    indexerLag: new Histogram({
      name: "inferd_scorer_index_replica_lag_seconds",
      help: "Staleness: time from kv-index receiving a KV event batch to this replica applying it.",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: r,
    }),
    podPurges: new Counter({
      name: "inferd_scorer_index_replica_pod_purges_total",
      help: "Pods the replica forgot because they left the inventory.",
      registers: r,
    }),
  };
  return {
    indexer,
    pending: new Gauge({
      name: "inferd_scorer_index_replica_pending_messages",
      help: "Staleness: INFERD_KV_EVENTS messages not yet applied by this replica (at the last delivery).",
      registers: r,
    }),
    ready: new Gauge({
      name: "inferd_scorer_index_replica_ready",
      help: "1 once the replica caught up with the stream (lookups are then served in process).",
      registers: r,
    }),
    dropped: new Counter({
      name: "inferd_scorer_index_replica_dropped_blocks_total",
      help: "New blocks not indexed because their engine is at maxBlocksPerEngine.",
      registers: r,
    }),
    entries: new Gauge({
      name: "inferd_scorer_index_replica_entries",
      help: "(engine, block) entries held by the replica (memory is about this times the bytes per entry the scorer bench reports).",
      registers: r,
      async collect() {
        this.set(await index.size());
      },
    }),
  };
}

/**
 * The scorer's in-process replica of the KV-block index: bootstrapped from the shared Redis
 * index, then fed from INFERD_KV_EVENTS by an ordered consumer (no server-side state) starting
 * just after the oldest checkpoint of the copy, through the same Indexer kv-index runs, so both
 * converge on the same content. Never blocks the scorer's start: until it caught up, `ready` is
 * false and the caller asks kv-index over NATS. A missing stream is retried.
 */
export function startIndexReplica(nc: NatsConnection, opts: IndexReplicaOptions): IndexReplica {
  const logger = opts.logger.child({ part: "index-replica" });
  let dropped: Counter | undefined;
  const index = new InMemoryBlockIndex({
    maxEntriesPerEngine: opts.maxBlocksPerEngine,
    onDropped: (_m, _e, n) => dropped?.inc(n),
  });
  const metrics = replicaMetrics(opts.registry, index);
  dropped = metrics.dropped;
  const indexer = new Indexer(
    index,
    { metrics: metrics.indexer, logger },
    { blockSize: opts.blockSize, ...(opts.rulesFor ? { rulesFor: opts.rulesFor } : {}) },
  );
  const keyCache = new RequestKeyCache();
  let ready = false;
  let stopped = false;
  let close: (() => Promise<void>) | undefined;
  const subjects = subjectsOf(opts.prefix);

  const run = async () => {
    let startSeq = 1n;
    if (opts.bootstrapFrom !== undefined) {
      const source = opts.bootstrapFrom();
      // A fresh fail-fast link refuses commands until it has connected: a few tries.
      for (let attempt = 1; ; attempt++) {
        try {
          const t0 = performance.now();
          const r = await bootstrapReplica(source, index);
          startSeq = r.startSeq;
          logger.info(
            { engines: r.engines, startSeq: String(startSeq), ms: Math.round(performance.now() - t0) },
            "index replica bootstrapped from the shared index",
          );
          break;
        } catch (err) {
          if (attempt < 10 && !stopped) {
            await new Promise((r) => setTimeout(r, 200));
            continue;
          }
          // What was copied keeps its checkpoints; the stream fills in the rest from its start.
          logger.warn(
            { err: (err as Error).message },
            "bootstrap from the shared index failed; replaying the stream from its start",
          );
          startSeq = 1n;
          break;
        }
      }
      await source.close().catch(() => undefined);
    }
    const jsm = await jetstreamManager(nc);
    const last = BigInt((await jsm.streams.info(subjects.streams.kvEvents)).state.last_seq);
    const consumer = await jetStreamClient(nc).consumers.get(subjects.streams.kvEvents, {
      filter_subjects: subjects.kvEventsAll(),
      ...(startSeq > 1n
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Number(startSeq) }
        : { deliver_policy: DeliverPolicy.All }),
    });
    const markReady = () => {
      if (ready) return;
      ready = true;
      metrics.ready.set(1);
      logger.info("index replica caught up; prefix lookups are served in process");
    };
    if (last < startSeq) markReady();
    // Messages are taken in the NATS client's callback (no async iterator, no promise per message)
    // and applied in one `handleMany` per burst: every message of one socket read is queued before
    // the microtask that applies them runs, so their engines' ops go in one index call each.
    const queue: JsMsg[] = [];
    let applying: Promise<void> | undefined;
    const applyQueued = async () => {
      try {
        await applyAll();
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "kv event batches not applied by the replica");
      } finally {
        applying = undefined;
        // Queued while the failure unwound: start again.
        if (queue.length > 0) applying = Promise.resolve().then(applyQueued);
      }
    };
    const applyAll = async () => {
      while (queue.length > 0) {
        const msgs = queue.splice(0, queue.length);
        const items: StreamBatch[] = [];
        for (const m of msgs) {
          try {
            items.push({ batch: decodeMessage(m, KvEventBatchSchema), streamSeq: BigInt(m.seq) });
          } catch (err) {
            logger.warn(
              { err: (err as Error).message, seq: m.seq },
              "kv event batch not applied by the replica",
            );
          }
        }
        try {
          await indexer.handleMany(items);
        } catch {
          // One bad batch must not hold back the others: apply them one by one (what was applied
          // already is skipped by the checkpoint guard).
          for (const it of items) {
            try {
              await indexer.handle(it.batch, it.streamSeq);
            } catch (err) {
              logger.warn(
                { err: (err as Error).message, seq: String(it.streamSeq) },
                "kv event batch not applied by the replica",
              );
            }
          }
        }
        const newest = msgs[msgs.length - 1]!;
        const pending = newest.info.pending;
        metrics.pending.set(pending);
        if (!ready && (pending === 0 || BigInt(newest.seq) >= last)) markReady();
      }
    };
    const messages = await consumer.consume({
      max_messages: 1024,
      callback: (m) => {
        queue.push(m);
        applying ??= Promise.resolve().then(applyQueued);
      },
    });
    close = async () => {
      await messages.close();
      await applying;
    };
  };

  const started = (async () => {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        await run();
        return;
      } catch (err) {
        if (attempt % 10 === 0)
          logger.warn(
            { err: (err as Error).message },
            "index replica not started yet (is kv-index up?); retrying",
          );
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** Math.min(attempt, 5))));
      }
    }
  })();

  return {
    get ready() {
      return ready;
    },
    index,
    lookup: (q) => replicaLookup(index, opts.blockSize, q, keyCache, opts.rulesFor?.(q.model)),
    async stop() {
      stopped = true;
      await started;
      await close?.();
    },
  };
}
