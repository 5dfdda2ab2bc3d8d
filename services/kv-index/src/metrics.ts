import { Counter, Gauge, Histogram, type Registry } from "prom-client";

const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const LOOKUP_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.1,
];

/**
 * One label's children of a counter, each looked up once: prom-client's `inc(labels)` hashes the
 * label object on every call, which the ingest path would pay per batch and per event. At most
 * `max` values are kept (a label fed from the wire, e.g. unknown event tags, cannot grow it
 * without bound); past that, values go through `inc(labels)` as before.
 */
export function labelChildren<T extends string>(
  counter: Counter<T>,
  label: T,
  max = 64,
): (value: string) => { inc(value?: number): void } {
  const children = new Map<string, Counter.Internal>();
  return (value) => {
    let child = children.get(value);
    if (child === undefined) {
      const labels = { [label]: value } as Partial<Record<T, string>>;
      if (children.size >= max) return { inc: (n?: number) => counter.inc(labels, n ?? 1) };
      child = counter.labels(labels);
      children.set(value, child);
    }
    return child;
  };
}

/** Every kv-index metric (prefix inferd_kv_, units in names), registered on one registry. */
export class KvIndexMetrics {
  readonly ingestBatches: Counter<"result">;
  readonly ingestEvents: Counter<"type">;
  readonly ingestBlocks: Counter<"type">;
  readonly ingestLag: Histogram;
  readonly ingestMessages: Counter<"reason">;
  readonly ingestBatchesPerMessage: Histogram;
  readonly gaps: Counter;
  readonly replays: Counter<"result">;
  readonly replayedBatches: Counter;
  readonly engineRestarts: Counter;
  readonly malformed: Counter<"stage">;
  readonly publishErrors: Counter;
  readonly indexerBatches: Counter<"result">;
  readonly indexerBlocks: Counter<"op">;
  readonly indexerLag: Histogram;
  readonly indexerAnomalies: Counter<"kind">;
  readonly indexerRebuilds: Counter;
  readonly indexerReplays: Counter;
  readonly podPurges: Counter;
  readonly indexEntries: Gauge;
  readonly indexOpDuration: Histogram<"backend" | "op">;
  readonly lookupDuration: Histogram<"via">;
  readonly tokenizeDuration: Histogram<"kind">;
  readonly lookups: Counter<"via" | "result">;
  readonly handoffs: Counter<"result">;
  #handoff: { hits: number; misses: number } | undefined;

  constructor(registry: Registry, entries?: () => Promise<number>) {
    const registers = [registry];
    this.ingestBatches = new Counter({
      name: "inferd_kv_ingest_batches_total",
      help: "vLLM event batches received by ingest, by result (published, duplicate, malformed)",
      labelNames: ["result"],
      registers,
    });
    this.ingestEvents = new Counter({
      name: "inferd_kv_ingest_events_total",
      help: "KV events ingested, by vLLM event type",
      labelNames: ["type"],
      registers,
    });
    this.ingestBlocks = new Counter({
      name: "inferd_kv_ingest_blocks_total",
      help: "Blocks carried by ingested events (stored, removed)",
      labelNames: ["type"],
      registers,
    });
    this.ingestMessages = new Counter({
      name: "inferd_kv_ingest_messages_total",
      help: "Stream messages published by ingest, by why they went out (off, root, alone, boundary, linger, size, shutdown)",
      labelNames: ["reason"],
      registers,
    });
    this.ingestBatchesPerMessage = new Histogram({
      name: "inferd_kv_ingest_batches_per_message",
      help: "Engine batches merged into one stream message (publishLingerMs)",
      buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64],
      registers,
    });
    this.ingestLag = new Histogram({
      name: "inferd_kv_ingest_lag_seconds",
      help: "Time from the engine's batch timestamp to its receipt by ingest",
      buckets: LAG_BUCKETS,
      registers,
    });
    this.gaps = new Counter({
      name: "inferd_kv_ingest_gaps_total",
      help: "Sequence gaps detected on the live ZeroMQ stream (replayed; see inferd_kv_ingest_replays_total)",
      registers,
    });
    this.replays = new Counter({
      name: "inferd_kv_ingest_replays_total",
      help: "Replay requests to vLLM's ROUTER socket, by result (repaired, partial, failed, unavailable)",
      labelNames: ["result"],
      registers,
    });
    this.replayedBatches = new Counter({
      name: "inferd_kv_ingest_replayed_batches_total",
      help: "Batches recovered through replay and published",
      registers,
    });
    this.engineRestarts = new Counter({
      name: "inferd_kv_ingest_engine_restarts_total",
      help: "Engine restarts detected (sequence went backwards); the engine's entries are cleared",
      registers,
    });
    this.malformed = new Counter({
      name: "inferd_kv_malformed_payloads_total",
      help: "Messages skipped because they could not be decoded, by stage (ingest, indexer)",
      labelNames: ["stage"],
      registers,
    });
    this.publishErrors = new Counter({
      name: "inferd_kv_ingest_publish_errors_total",
      help: "Batches that could not be published to JetStream after retries",
      registers,
    });
    this.indexerBatches = new Counter({
      name: "inferd_kv_indexer_batches_total",
      help: "Stream messages handled by the indexer, by result (applied, duplicate, redelivered)",
      labelNames: ["result"],
      registers,
    });
    this.indexerBlocks = new Counter({
      name: "inferd_kv_indexer_blocks_total",
      help: "Blocks applied to the index, by operation (stored, removed)",
      labelNames: ["op"],
      registers,
    });
    this.indexerLag = new Histogram({
      name: "inferd_kv_indexer_lag_seconds",
      help: "Time from receipt by ingest to application in the index",
      buckets: LAG_BUCKETS,
      registers,
    });
    this.indexerAnomalies = new Counter({
      name: "inferd_kv_indexer_anomalies_total",
      help: "Events indexed in a degraded way or skipped, by kind (unknown_parent, unresolved_placeholder, block_size_mismatch, token_count_mismatch, other_cache_group, unknown_event, engine_full)",
      labelNames: ["kind"],
      registers,
    });
    this.indexerRebuilds = new Counter({
      name: "inferd_kv_indexer_rebuilds_total",
      help: "Full rebuilds of the index from the stream (store found empty or reset)",
      registers,
    });
    this.indexerReplays = new Counter({
      name: "inferd_kv_indexer_store_replays_total",
      help: "Replays of the stream after the store lost writes it had acknowledged (e.g. a Redis failover)",
      registers,
    });
    this.podPurges = new Counter({
      name: "inferd_kv_indexer_pod_purges_total",
      help: "Pods purged from the index because they left the endpoint inventory",
      registers,
    });
    this.indexEntries = new Gauge({
      name: "inferd_kv_index_entries",
      help: "(engine, block) entries held by the index",
      registers,
      async collect() {
        // A store that cannot answer reports NaN (unknown, never a false 0) rather than failing
        // or stalling the scrape.
        if (entries) this.set(await entries().catch(() => Number.NaN));
      },
    });
    this.indexOpDuration = new Histogram({
      name: "inferd_kv_index_operation_duration_seconds",
      help: "Duration of index backend operations",
      labelNames: ["backend", "op"],
      buckets: LOOKUP_BUCKETS,
      registers,
    });
    this.lookupDuration = new Histogram({
      name: "inferd_kv_lookup_duration_seconds",
      help: "Lookup latency without tokenization (keys + index), by interface (nats, http)",
      labelNames: ["via"],
      buckets: LOOKUP_BUCKETS,
      registers,
    });
    this.tokenizeDuration = new Histogram({
      name: "inferd_kv_lookup_tokenize_duration_seconds",
      help: "Tokenization time of lookups given text or chat messages",
      labelNames: ["kind"],
      buckets: LOOKUP_BUCKETS,
      registers,
    });
    this.lookups = new Counter({
      name: "inferd_kv_lookups_total",
      help: "Lookups served, by interface and result (ok, bad_request, no_tokenizer: text for a model without a tokenizer here, error)",
      labelNames: ["via", "result"],
      registers,
    });
    const metrics = this;
    this.handoffs = new Counter({
      name: "inferd_kv_indexer_handoffs_total",
      help: "Stream deliveries to the indexer by how they were read: hit = the batch this process's ingest published (no decode), miss = decoded",
      labelNames: ["result"],
      registers,
      // Read from the handoff's own counts at scrape time: nothing per batch.
      collect() {
        const h = metrics.#handoff;
        if (h === undefined) return;
        this.reset();
        this.inc({ result: "hit" }, h.hits);
        this.inc({ result: "miss" }, h.misses);
      },
    });
  }

  /** Ingest and indexer run in this process: report the handoff between them. */
  observeHandoff(handoff: { hits: number; misses: number }): void {
    this.#handoff = handoff;
  }
}
