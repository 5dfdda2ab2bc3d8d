import type { JetStreamClient } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";

export type DropReason = "overflow" | "expired" | "closed";

export interface AckedPublisherOptions {
  /** Messages held until the stream acknowledges them, at most; a publish beyond is dropped (default 10,000). */
  maxBuffered?: number;
  /** Publishes awaiting their ack at once, at most (default 512). */
  window?: number;
  /** Time to wait for one ack (default 5 s). */
  timeoutMs?: number;
  /** A message not acknowledged this long after its publish is dropped (default 60 s). */
  maxAgeMs?: number;
  /** Longest pause between two rounds of retries (default 2 s; the first is 100 ms, doubling). */
  maxBackoffMs?: number;
  /** Called once per dropped message (count it, log it); never throws into the caller. */
  onDropped?: (reason: DropReason, subject: string, err?: unknown) => void;
  /** Whether the connection is closed for good (then nothing more is retried). */
  isClosed?: () => boolean;
}

interface Entry {
  order: number;
  subject: string;
  data: Uint8Array;
  msgId: string;
  headers: MsgHdrs | undefined;
  firstAt: number;
}

/**
 * Publishes to JetStream with acknowledgements, without ever blocking or failing the caller:
 * `publish` returns at once; the message is retried (same Nats-Msg-Id, so the stream keeps one
 * copy) until the stream acknowledges it — across a stream leader change or a reconnect — and
 * dropped only when the buffer is full or it is older than `maxAgeMs`, each drop reported to
 * `onDropped`. For events whose loss costs accounting (request lifecycle, decisions) on a path
 * that must not wait (a user's request).
 *
 * Publish order is kept across failures, as far as the server can tell: after a failed publish
 * — or after `hold()`, which the owner calls when the connection drops — nothing new is sent
 * until every publish in flight has settled; the failed ones go back into the queue at their
 * original place and the queue resumes after a backoff shared by all (one round per backoff
 * during an outage, not a timer per message). Without the hold, messages sent on the new
 * connection would be stored before those lost with the old one and retried later; a consumer
 * that applies a stream in order (kv-index's indexer) would then take a late one for a repeat.
 *
 * Publishes of one event-loop turn go out in one socket write (nats.js batches them).
 */
export class AckedPublisher {
  readonly #js: JetStreamClient;
  readonly #max: number;
  readonly #window: number;
  readonly #timeoutMs: number;
  readonly #maxAgeMs: number;
  readonly #maxBackoffMs: number;
  readonly #onDropped: NonNullable<AckedPublisherOptions["onDropped"]>;
  readonly #isClosed: () => boolean;
  /** Waiting to be sent (or sent again), in publish order. */
  #queue: Entry[] = [];
  #inFlight = 0;
  #order = 0;
  #failures = 0;
  #paused: ReturnType<typeof setTimeout> | undefined;
  #idle: (() => void)[] = [];
  #below: { n: number; resolve: () => void }[] = [];
  #closed = false;
  /** Nothing new is sent until the publishes in flight have settled (after a failure or `hold()`). */
  #holding = false;

  constructor(js: JetStreamClient, options: AckedPublisherOptions = {}) {
    this.#js = js;
    this.#max = options.maxBuffered ?? 10_000;
    this.#window = options.window ?? 512;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#maxAgeMs = options.maxAgeMs ?? 60_000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 2_000;
    this.#onDropped = options.onDropped ?? (() => undefined);
    this.#isClosed = options.isClosed ?? (() => false);
  }

  /** Messages not acknowledged yet (queued or awaiting their ack). */
  get buffered(): number {
    return this.#queue.length + this.#inFlight;
  }

  publish(subject: string, data: Uint8Array, options: { msgId: string; headers?: MsgHdrs }): void {
    if (this.#closed || this.#isClosed()) {
      this.#onDropped("closed", subject);
      return;
    }
    if (this.buffered >= this.#max) {
      this.#onDropped("overflow", subject);
      return;
    }
    this.#queue.push({
      order: this.#order++,
      subject,
      data,
      msgId: options.msgId,
      headers: options.headers,
      firstAt: Date.now(),
    });
    this.#pump();
  }

  /**
   * Stop sending until every publish in flight has settled (acknowledged, or back in the queue):
   * call it when the connection drops, before the client reconnects.
   */
  hold(): void {
    this.#holding = true;
  }

  /** Resolves when fewer than `n` messages are buffered (back-pressure for a producer). */
  async whenBelow(n: number): Promise<void> {
    if (this.buffered < n) return;
    await new Promise<void>((resolve) => this.#below.push({ n, resolve }));
  }

  /** Resolves when every message so far was acknowledged or dropped. */
  async flush(): Promise<void> {
    if (this.buffered === 0) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Stops retrying: what is still buffered is dropped ("closed"). */
  close(): void {
    this.#closed = true;
    if (this.#paused) clearTimeout(this.#paused);
    this.#paused = undefined;
    const left = this.#queue;
    this.#queue = [];
    for (const e of left) this.#onDropped("closed", e.subject);
    this.#settled();
  }

  #pump(): void {
    if (this.#paused) return;
    if (this.#holding) {
      if (this.#inFlight > 0) return;
      this.#holding = false;
    }
    while (this.#inFlight < this.#window && this.#queue.length > 0) {
      const e = this.#queue.shift()!;
      this.#inFlight++;
      void this.#send(e);
    }
  }

  async #send(e: Entry): Promise<void> {
    try {
      await this.#js.publish(e.subject, e.data, {
        msgID: e.msgId,
        timeout: this.#timeoutMs,
        ...(e.headers ? { headers: e.headers } : {}),
      });
      this.#inFlight--;
      this.#failures = 0;
    } catch (err) {
      this.#inFlight--;
      if (this.#closed || this.#isClosed()) {
        this.#onDropped("closed", e.subject, err);
      } else if (Date.now() - e.firstAt >= this.#maxAgeMs) {
        this.#onDropped("expired", e.subject, err);
      } else {
        this.#requeue(e);
        this.#holding = true;
        this.#pause();
      }
    }
    this.#pump();
    this.#settled();
  }

  /** Back at its place in publish order (failures come mostly from the oldest messages). */
  #requeue(e: Entry): void {
    let lo = 0;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#queue[mid]!.order < e.order) lo = mid + 1;
      else hi = mid;
    }
    this.#queue.splice(lo, 0, e);
  }

  #pause(): void {
    if (this.#paused) return;
    this.#failures++;
    const ms = Math.min(this.#maxBackoffMs, 100 * 2 ** Math.min(this.#failures - 1, 10));
    this.#paused = setTimeout(() => {
      this.#paused = undefined;
      this.#pump();
    }, ms);
  }

  #settled(): void {
    if (this.#below.length > 0) {
      const waiting = this.#below;
      this.#below = [];
      for (const w of waiting) {
        if (this.buffered < w.n) w.resolve();
        else this.#below.push(w);
      }
    }
    if (this.buffered > 0) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }
}
