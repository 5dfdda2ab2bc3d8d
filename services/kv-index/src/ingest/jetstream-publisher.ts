import { type JetStreamClient, messageHeaders } from "@inferd/bus";
import { encode, type KvEventBatch, KvEventBatchSchema, type Subjects } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { KvIndexMetrics } from "../metrics.ts";

export interface PublisherOptions {
  /** Publishes awaiting their ack at most (default 2048); `whenReady` waits below it. */
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
 * Publishes normalised batches to JetStream (`inferd.v1.kv.events.<model>.<pod>`), pipelined:
 * many publishes are in flight at once on one connection, which keeps them in order. Each
 * carries a Nats-Msg-Id so the stream drops repeats inside its duplicate window.
 */
export class BatchPublisher {
  readonly #js: JetStreamClient;
  readonly #subjects: Subjects;
  readonly #logger: Logger;
  readonly #metrics: KvIndexMetrics;
  readonly #max: number;
  readonly #retryForMs: number;
  readonly #timeoutMs: number;
  readonly #inFlight = new Set<Promise<void>>();
  #waiters: (() => void)[] = [];

  constructor(
    js: JetStreamClient,
    subjects: Subjects,
    deps: { logger: Logger; metrics: KvIndexMetrics },
    options: PublisherOptions = {},
  ) {
    this.#js = js;
    this.#subjects = subjects;
    this.#logger = deps.logger;
    this.#metrics = deps.metrics;
    this.#max = options.maxInFlight ?? 2048;
    this.#retryForMs = options.retryForMs ?? 60_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  publish(batch: KvEventBatch, msgId: string): void {
    const subject = this.#subjects.kvEvents(batch.model, batch.pod);
    const data = encode(KvEventBatchSchema, batch);
    const p = this.#send(subject, data, msgId).finally(() => {
      this.#inFlight.delete(p);
      if (this.#inFlight.size < this.#max) {
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const w of waiters) w();
      }
    });
    this.#inFlight.add(p);
  }

  /** Resolves when fewer than maxInFlight publishes are pending (back-pressure for the SUB loop). */
  async whenReady(): Promise<void> {
    if (this.#inFlight.size < this.#max) return;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves when every publish so far has been acknowledged (or given up). */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  async #send(subject: string, data: Uint8Array, msgId: string): Promise<void> {
    const since = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#js.publish(subject, data, {
          msgID: msgId,
          headers: messageHeaders(KvEventBatchSchema),
          timeout: this.#timeoutMs,
        });
        return;
      } catch (err) {
        if (Date.now() - since >= this.#retryForMs) {
          this.#metrics.publishErrors.inc();
          this.#logger.error(
            { err, subject, msgId },
            "kv events: publish to JetStream failed; batch dropped",
          );
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** Math.min(attempt, 5))));
      }
    }
  }
}
