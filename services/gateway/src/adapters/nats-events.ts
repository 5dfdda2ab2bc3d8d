import { encodeMessage, messageHeaders, type NatsConnection } from "@inferd/bus";
import {
  DemandSchema,
  make,
  type RequestEvent,
  RequestEventSchema,
  subjects,
  timestampNow,
} from "@inferd/protocol";
import type { EventSink } from "../options.ts";

/**
 * Publishes RequestEvents on `inferd.v1.requests.<model>` and Demand on
 * `inferd.v1.autoscale.demand.<model>`. Plain (core) publishes, fire and forget: the
 * INFERD_REQUESTS stream captures them without the gateway waiting for an acknowledgement on
 * the request path; a lost event costs accounting precision, never a request.
 *
 * RequestEvents are published together once per event-loop turn (setImmediate): nats.js
 * writes to the socket once per microtask batch, and the phases of a request happen in
 * different turns, so publishing each at once costs one socket write per event (measured: about
 * half of the gateway's CPU per request). Batched, one write carries every event of the turn;
 * the delay is one loop turn.
 *
 * An event that cannot be encoded (the edge validation should make this impossible) is handed
 * to `onDropped` and skipped: it runs outside any request, so a throw here would take the whole
 * gateway down.
 */
export function natsEventSink(
  nc: NatsConnection,
  gatewayId: string,
  prefix?: string,
  onDropped: (err: unknown, subject: string) => void = () => {},
): EventSink {
  const s = subjects(prefix);
  const requestSubjects = new Map<string, string>();
  const requestHeaders = messageHeaders(RequestEventSchema);
  const demandHeaders = messageHeaders(DemandSchema);
  let pending: { subject: string; event: RequestEvent }[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    if (nc.isClosed()) return;
    for (const { subject, event } of batch) {
      try {
        nc.publish(subject, encodeMessage(RequestEventSchema, event), { headers: requestHeaders });
      } catch (err) {
        onDropped(err, subject);
      }
    }
  };
  return {
    requestEvent(model, event) {
      let subject = requestSubjects.get(model);
      if (subject === undefined) {
        subject = s.requests(model);
        requestSubjects.set(model, subject);
      }
      if (pending.length === 0) setImmediate(flush);
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
        onDropped(err, subject);
      }
    },
  };
}
