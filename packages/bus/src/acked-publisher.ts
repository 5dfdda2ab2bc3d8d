import {
  createInbox,
  type Msg,
  type MsgHdrs,
  headers as makeHeaders,
  type NatsConnection,
  type Subscription,
} from "@nats-io/nats-core";

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

/** What the stream said of a stored message (its PubAck). */
export interface PubAckInfo {
  /** The stream sequence the message has (for a duplicate: that of the copy stored first). */
  seq: number;
  /** The stream already held a message with this Nats-Msg-Id; this one was not stored. */
  duplicate: boolean;
}

interface Entry {
  order: number;
  subject: string;
  data: Uint8Array;
  /** Carries Nats-Msg-Id (set once, reused by every retry). */
  headers: MsgHdrs;
  firstAt: number;
  onAcked: ((ack: PubAckInfo) => void) | undefined;
}

interface Awaiting {
  entry: Entry;
  /** Date.now() past which the ack is given up (the message is retried). */
  deadline: number;
}

/** JetStream's de-duplication header (what `js.publish({ msgID })` sets). */
const MSG_ID_HEADER = "Nats-Msg-Id";
const ackDecoder = new TextDecoder();

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
 * during an outage, not a timer per message), with the oldest message alone until the stream
 * acknowledges it (one sent before the connection was back may be lost silently: the rest would
 * overtake its retry). Without the hold, messages sent on the new
 * connection would be stored before those lost with the old one and retried later; a consumer
 * that applies a stream in order (kv-index's indexer) would then take a late one for a repeat.
 *
 * Publishes of one event-loop turn go out in one socket write (nats.js batches them).
 *
 * How (cost, measured): a JetStream publish is a core publish whose reply subject receives the
 * stream's PubAck. `js.publish` makes that a request: per message a mux entry, a timer, a
 * promise chain and two to three Error objects with stack traces (nats.js captures one for
 * async traces and builds another when it cancels the settled request) — a quarter of
 * kv-index's ingest CPU. Here every message is published with a reply subject under one
 * inbox wildcard subscription (one per publisher), acks are matched by the reply token, and one
 * timer covers every ack in flight (acks are awaited in send order, so deadlines are ordered).
 * What the stream stores, and the retry and drop rules, are unchanged.
 */
export class AckedPublisher {
  readonly #nc: NatsConnection;
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
  /**
   * After a failure or `hold()`: nothing new is sent until the publishes in flight have settled,
   * then ONE message (`#probe`) goes alone until the stream acknowledges it.
   */
  #holding = false;
  #probe: Entry | undefined;
  /** Reply subjects are `<inbox>.<token>`; the subscription is opened on the first send. */
  #inbox = "";
  #sub: Subscription | undefined;
  #nextToken = 0;
  /** Sent, awaiting the stream's ack, by reply token; insertion (= send) order. */
  readonly #awaiting = new Map<string, Awaiting>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(nc: NatsConnection, options: AckedPublisherOptions = {}) {
    this.#nc = nc;
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

  /**
   * Queues one message; returns at once. `headers` is taken over (Nats-Msg-Id is set on it and it
   * goes with every retry): pass a fresh object per message. `onAcked` is called once the stream
   * has acknowledged it (not for a drop), with the sequence it was stored at.
   */
  publish(
    subject: string,
    data: Uint8Array,
    options: { msgId: string; headers?: MsgHdrs; onAcked?: (ack: PubAckInfo) => void },
  ): void {
    if (this.#closed || this.#isClosed()) {
      this.#onDropped("closed", subject);
      return;
    }
    if (this.buffered >= this.#max) {
      this.#onDropped("overflow", subject);
      return;
    }
    // The caller's headers object carries the message id from here on (as js.publish does).
    const headers = options.headers ?? makeHeaders();
    headers.set(MSG_ID_HEADER, options.msgId);
    this.#queue.push({
      order: this.#order++,
      subject,
      data,
      headers,
      firstAt: Date.now(),
      onAcked: options.onAcked,
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
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const left = [...this.#queue, ...[...this.#awaiting.values()].map((a) => a.entry)];
    this.#queue = [];
    this.#probe = undefined;
    // Sends that failed synchronously settle later (as "closed"); those awaiting acks end here.
    this.#inFlight -= this.#awaiting.size;
    this.#awaiting.clear();
    if (this.#sub !== undefined && !this.#nc.isClosed()) this.#sub.unsubscribe();
    this.#sub = undefined;
    for (const e of left) this.#onDropped("closed", e.subject);
    this.#settled();
  }

  #pump(): void {
    if (this.#paused) return;
    if (this.#holding) {
      if (this.#inFlight > 0) return;
      // Resume with one message and wait for its ack: sent while the connection is not back (the
      // client buffers it, a restarting server may drop it before its streams are loaded), it can
      // be lost without a word, and later messages sent behind it would be stored before its retry.
      const e = this.#queue.shift();
      if (e === undefined) return;
      this.#probe = e;
      this.#inFlight++;
      this.#send(e);
      return;
    }
    while (this.#inFlight < this.#window && this.#queue.length > 0) {
      const e = this.#queue.shift()!;
      this.#inFlight++;
      this.#send(e);
    }
  }

  #send(e: Entry): void {
    const token = (this.#nextToken++).toString(36);
    try {
      this.#nc.publish(e.subject, e.data, { reply: this.#replyPrefix() + token, headers: e.headers });
    } catch (err) {
      // Closed or draining connection: settle outside the pump loop that called us.
      queueMicrotask(() => this.#settle(e, err));
      return;
    }
    this.#awaiting.set(token, { entry: e, deadline: Date.now() + this.#timeoutMs });
    if (this.#timer === undefined) this.#arm(this.#timeoutMs);
  }

  #replyPrefix(): string {
    if (this.#sub === undefined) {
      this.#inbox = `${createInbox()}.`;
      this.#sub = this.#nc.subscribe(`${this.#inbox}*`, { callback: (err, msg) => this.#onAck(err, msg) });
    }
    return this.#inbox;
  }

  #onAck(err: Error | null, msg: Msg): void {
    if (err !== null) return; // the subscription itself failed; the awaited acks time out
    const token = msg.subject.slice(this.#inbox.length);
    const a = this.#awaiting.get(token);
    // Unknown: an ack that came after its timeout; the retry (same message id) is stored once.
    if (a === undefined) return;
    this.#awaiting.delete(token);
    const refused = ackError(msg);
    if (refused === undefined && a.entry.onAcked !== undefined) {
      const info = pubAckInfo(msg.data);
      if (info !== undefined) a.entry.onAcked(info);
    }
    this.#settle(a.entry, refused);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, ms));
  }

  /** Acks past their deadline are failures (retried); the next deadline re-arms the timer. */
  #expire(): void {
    this.#timer = undefined;
    const now = Date.now();
    for (const [token, a] of this.#awaiting) {
      if (a.deadline > now) {
        this.#arm(a.deadline - now);
        break;
      }
      this.#awaiting.delete(token);
      this.#settle(a.entry, new Error(`no ack from the stream within ${this.#timeoutMs} ms`));
    }
  }

  /** One sent message is acknowledged (`err` undefined) or failed. */
  #settle(e: Entry, err: unknown): void {
    this.#inFlight--;
    if (e === this.#probe) {
      this.#probe = undefined;
      if (err === undefined) this.#holding = false;
    }
    if (err === undefined) {
      this.#failures = 0;
    } else if (this.#closed || this.#isClosed()) {
      this.#onDropped("closed", e.subject, err);
    } else if (Date.now() - e.firstAt >= this.#maxAgeMs) {
      this.#onDropped("expired", e.subject, err);
    } else {
      this.#requeue(e);
      this.#holding = true;
      this.#pause();
    }
    if (this.#awaiting.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
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

/** The stream sequence and duplicate flag of a PubAck (`{"stream":..,"seq":N[,"duplicate":true]}`). */
function pubAckInfo(data: Uint8Array): PubAckInfo | undefined {
  try {
    const ack = JSON.parse(ackDecoder.decode(data)) as { seq?: unknown; duplicate?: unknown };
    if (typeof ack.seq !== "number") return undefined;
    return { seq: ack.seq, duplicate: ack.duplicate === true };
  } catch {
    return undefined;
  }
}

/**
 * Undefined when `msg` is a PubAck; otherwise why not: a status message (503: no stream takes
 * the subject), an empty reply or a JetStream API error.
 */
export function ackError(msg: Pick<Msg, "data" | "headers">): Error | undefined {
  if (msg.headers?.hasError) return new Error(`stream answered status ${msg.headers.code}`);
  if (msg.data.length === 0) return new Error("empty ack");
  const text = ackDecoder.decode(msg.data);
  // The server writes `{"stream":...}` on success; an API error carries `"error"`.
  if (!text.includes('"error"') && text.includes('"stream"')) return undefined;
  return new Error(`stream refused the message: ${text.slice(0, 200)}`);
}
