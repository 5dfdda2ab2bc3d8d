import {
  AckedPublisher,
  type AckedPublisherOptions,
  encodeMessage,
  messageHeaders,
  type NatsConnection,
} from "@inferd/bus";
import {
  DemandSchema,
  make,
  type RequestEvent,
  RequestEventSchema,
  subjects,
  timestampNow,
} from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import { Counter, type Registry } from "prom-client";
import type { EventSink } from "../options.ts";
import { afterUpstreamWrite } from "../proxy/after-upstream-write.ts";

export interface NatsEventSinkOptions {
  prefix?: string;
  /** An event that could not be encoded or was given up (buffer full, unacknowledged too long). */
  onDropped?: (err: unknown, subject: string, reason: string) => void;
  /** Tuning of the acknowledged publisher (buffer size, ack timeout, retry age). */
  publisher?: Omit<AckedPublisherOptions, "onDropped" | "isClosed">;
}

export interface NatsEventSink extends EventSink {
  /** Lifecycle events not acknowledged by the stream yet. */
  readonly buffered: number;
  /** Resolves when every event so far is stored (or dropped). */
  flush(): Promise<void>;
  close(): void;
}

/**
 * Publishes RequestEvents on `inferd.v1.requests.<model>` (stream INFERD_REQUESTS) and Demand on
 * `inferd.v1.autoscale.demand.<model>` (core NATS: a gauge refreshed every second).
 *
 * RequestEvents are acknowledged JetStream publishes, retried until stored — across a NATS
 * node's death and the stream's leader election — with `Nats-Msg-Id` = request id, phase and
 * endpoint, so a retry never stores an event twice. The request never waits for them: they sit
 * in a bounded buffer; an event dropped because the buffer is full or unacknowledged for a
 * minute goes to `onDropped` (counted and logged by the caller).
 *
 * RequestEvents are published together once per event-loop turn (setImmediate): nats.js
 * writes to the socket once per microtask batch, and the phases of a request happen in
 * different turns, so publishing each at once costs one socket write per event (measured: about
 * half of the gateway's CPU per request). Batched, one write carries every event of the turn;
 * the delay is one or two loop turns: the batch goes out after the upstream requests of the turn
 * are written (`afterUpstreamWrite`), so encoding and publishing ROUTED never delays one.
 *
 * An event that cannot be encoded (the edge validation should make this impossible) is handed
 * to `onDropped` and skipped: it runs outside any request, so a throw here would take the whole
 * gateway down.
 */
export function natsEventSink(
  nc: NatsConnection,
  gatewayId: string,
  options: NatsEventSinkOptions = {},
): NatsEventSink {
  const s = subjects(options.prefix);
  const onDropped = options.onDropped ?? (() => undefined);
  const requestSubjects = new Map<string, string>();
  const demandHeaders = messageHeaders(DemandSchema);
  const publisher = new AckedPublisher(nc, {
    ...options.publisher,
    isClosed: () => nc.isClosed(),
    onDropped: (reason, subject, err) => onDropped(err, subject, reason),
  });
  let pending: { subject: string; event: RequestEvent | (() => RequestEvent) }[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    for (const { subject, event: given } of batch) {
      let data: Uint8Array;
      let event: RequestEvent;
      try {
        event = typeof given === "function" ? given() : given;
        data = encodeMessage(RequestEventSchema, event);
      } catch (err) {
        onDropped(err, subject, "unencodable");
        continue;
      }
      publisher.publish(subject, data, {
        msgId: `${event.requestId}|${event.phase}|${event.endpoint}`,
        headers: messageHeaders(RequestEventSchema),
      });
    }
  };
  return {
    requestEvent(model, event) {
      let subject = requestSubjects.get(model);
      if (subject === undefined) {
        subject = s.requests(model);
        requestSubjects.set(model, subject);
      }
      if (pending.length === 0) afterUpstreamWrite(flush);
      pending.push({ subject, event });
    },
    demand(model, heldRequests, oldestWaitSeconds) {
      if (nc.isClosed()) return;
      const msg = make(DemandSchema, {
        model,
        heldRequests,
        oldestWaitSeconds,
        time: timestampNow(),
        gatewayId,
      });
      const subject = s.demand(model);
      try {
        nc.publish(subject, encodeMessage(DemandSchema, msg), { headers: demandHeaders });
      } catch (err) {
        onDropped(err, subject, "unencodable");
      }
    },
    get buffered() {
      return publisher.buffered + pending.length;
    },
    async flush() {
      while (pending.length > 0 || publisher.buffered > 0) {
        if (pending.length > 0) await new Promise<void>((r) => setImmediate(r));
        await publisher.flush();
      }
    },
    close() {
      publisher.close();
    },
  };
}

/**
 * The `onDropped` of the gateway's sink: `inferd_gateway_events_dropped_total{reason}` and one
 * log line per reason at most every 10 s (an outage drops thousands; the counter has them all).
 */
export function eventDropReporter(
  registry: Registry,
  logger: Pick<Logger, "error">,
): (err: unknown, subject: string, reason: string) => void {
  const dropped = new Counter({
    name: "inferd_gateway_events_dropped_total",
    help: "Request lifecycle events not stored in the requests stream, by reason (overflow, expired, closed, unencodable)",
    labelNames: ["reason"],
    registers: [registry],
  });
  const since = new Map<string, { at: number; n: number }>();
  return (err, subject, reason) => {
    dropped.inc({ reason });
    const s = since.get(reason) ?? { at: 0, n: 0 };
    s.n++;
    since.set(reason, s);
    const now = Date.now();
    if (now - s.at < 10_000) return;
    logger.error(
      { err, subject, reason, droppedSinceLastLine: s.n },
      "request lifecycle event dropped (not stored in the requests stream)",
    );
    since.set(reason, { at: now, n: 0 });
  };
}
