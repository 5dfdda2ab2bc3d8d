import { AckedPublisher, messageHeaders, type NatsConnection } from "@inferd/bus";
import { encode, type KvEventBatch, KvEventBatchSchema, type Subjects } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { BatchHandoff } from "../handoff.ts";
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
  /** The indexer of this process: each acknowledged batch is handed over with its stream sequence. */
  handoff?: BatchHandoff;
}

/**
 * Publishes normalised batches to JetStream (`inferd.v1.kv.events.<model>.<pod>`), pipelined on
 * one connection, each with a Nats-Msg-Id so the stream drops repeats inside its duplicate
 * window. Built on `AckedPublisher`, which keeps publish order across a failure or a dropped
 * connection (call `hold()` on disconnect): the indexer applies each engine's batches in stream
 * order and takes a batch older than the last applied for a repeat, so a batch stored late would
 * be lost from the index.
 *
 * Batches handed over in one event-loop turn (every ZeroMQ message already received when the SUB
 * loop woke up) go out together at the end of the turn (`setImmediate`): nats.js writes what is
 * published before its flush in one socket write, so a burst of engines' batches costs one write
 * to NATS (and one read there) instead of one each. No timer, no added wait beyond the turn
(merging an engine's batches over several steps is the Coalescer's, before this).
 */
export class BatchPublisher {
  readonly #subjects: Subjects;
  readonly #max: number;
  readonly #publisher: AckedPublisher;
  /** Encoded this turn, published at its end, in call order. */
  #pending: { subject: string; data: Uint8Array; msgId: string; batch: KvEventBatch }[] = [];
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  readonly #handoff: BatchHandoff | undefined;

  constructor(
    nc: NatsConnection,
    subjects: Subjects,
    deps: { logger: Logger; metrics: KvIndexMetrics },
    options: PublisherOptions = {},
  ) {
    this.#subjects = subjects;
    this.#max = options.maxInFlight ?? 2048;
    this.#handoff = options.handoff;
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

  /** Encodes now (an unencodable batch throws here, to the caller); sends at the end of the turn. */
  publish(batch: KvEventBatch, msgId: string): void {
    const data = encode(KvEventBatchSchema, batch);
    this.#pending.push({ subject: this.#subjects.kvEvents(batch.model, batch.pod), data, msgId, batch });
    this.#scheduled ??= setImmediate(() => this.#send());
  }

  #send(): void {
    this.#scheduled = undefined;
    const pending = this.#pending;
    this.#pending = [];
    const handoff = this.#handoff;
    for (const p of pending)
      this.#publisher.publish(p.subject, p.data, {
        msgId: p.msgId,
        headers: messageHeaders(KvEventBatchSchema),
        // A duplicate's sequence is the first copy's, which may differ (a replayed copy): not handed.
        onAcked:
          handoff &&
          ((ack) => {
            if (!ack.duplicate) handoff.put(ack.seq, p.subject, p.data, p.batch);
          }),
      });
  }

  /** The connection dropped: send nothing new until what is in flight has settled (keeps order). */
  hold(): void {
    this.#publisher.hold();
  }

  /**
   * Undefined while fewer than maxInFlight batches are pending (the SUB loop goes on without a
   * promise per message); otherwise resolves when they are (back-pressure).
   */
  whenReady(): Promise<void> | undefined {
    if (this.inFlight < this.#max) return undefined;
    // What is held for this turn must go out, or its acks would never lower the count.
    this.#sendNow();
    return this.#publisher.whenBelow(this.#max);
  }

  /** Resolves when every publish so far has been acknowledged (or given up). */
  flush(): Promise<void> {
    this.#sendNow();
    return this.#publisher.flush();
  }

  get inFlight(): number {
    return this.#pending.length + this.#publisher.buffered;
  }

  #sendNow(): void {
    if (this.#scheduled === undefined) return;
    clearImmediate(this.#scheduled);
    this.#send();
  }
}
