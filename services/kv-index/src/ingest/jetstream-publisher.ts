import { AckedPublisher, messageHeaders, type NatsConnection } from "@inferd/bus";
import { encode, type KvEventBatch, KvEventBatchSchema, type Subjects } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { KvIndexMetrics } from "../metrics.ts";

export interface PublisherOptions {
  /** Batches awaiting their ack at most (default 2048); `whenReady` waits below it. */
  maxInFlight?: number;
  /**
   * How long a batch is retried (same Nats-Msg-Id, so a retry never duplicates; default 60 s).
   * A time budget, not a count of attempts: a one-node NATS restart, or a stream electing a new
   * leader on a loaded machine, keeps JetStream unavailable for seconds, and a batch given up
   * there is lost from the index (a dropped BlockRemoved leaves a block the engine evicted).
   */
  retryForMs?: number;
  timeoutMs?: number;
}

/**
 * Publishes normalised batches to JetStream (`inferd.v1.kv.events.<model>.<pod>`), pipelined on
 * one connection, each with a Nats-Msg-Id so the stream drops repeats inside its duplicate
 * window. Built on `AckedPublisher`, which keeps publish order across a failure or a dropped
 * connection (call `hold()` on disconnect): the indexer applies each engine's batches in stream
 * order and takes a batch older than the last applied for a repeat, so a batch stored late would
 * be lost from the index.
 */
export class BatchPublisher {
  readonly #subjects: Subjects;
  readonly #max: number;
  readonly #publisher: AckedPublisher;

  constructor(
    nc: NatsConnection,
    subjects: Subjects,
    deps: { logger: Logger; metrics: KvIndexMetrics },
    options: PublisherOptions = {},
  ) {
    this.#subjects = subjects;
    this.#max = options.maxInFlight ?? 2048;
    this.#publisher = new AckedPublisher(nc, {
      // The SUB loop waits in whenReady: the buffer bound is the back-pressure, not a drop.
      maxBuffered: Number.POSITIVE_INFINITY,
      window: this.#max,
      timeoutMs: options.timeoutMs ?? 5_000,
      maxAgeMs: options.retryForMs ?? 60_000,
      onDropped: (reason, subject, err) => {
        deps.metrics.publishErrors.inc();
        deps.logger.error({ err, subject, reason }, "kv events: publish to JetStream failed; batch dropped");
      },
    });
  }

  publish(batch: KvEventBatch, msgId: string): void {
    this.#publisher.publish(
      this.#subjects.kvEvents(batch.model, batch.pod),
      encode(KvEventBatchSchema, batch),
      {
        msgId,
        headers: messageHeaders(KvEventBatchSchema),
      },
    );
  }

  /** The connection dropped: send nothing new until what is in flight has settled (keeps order). */
  hold(): void {
    this.#publisher.hold();
  }

  /** Resolves when fewer than maxInFlight batches are pending (back-pressure for the SUB loop). */
  whenReady(): Promise<void> {
    return this.#publisher.whenBelow(this.#max);
  }

  /** Resolves when every publish so far has been acknowledged (or given up). */
  flush(): Promise<void> {
    return this.#publisher.flush();
  }

  get inFlight(): number {
    return this.#publisher.buffered;
  }
}
