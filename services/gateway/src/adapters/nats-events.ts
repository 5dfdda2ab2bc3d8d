import { encodeMessage, jetstreamManager, messageHeaders, type NatsConnection } from "@inferd/bus";
import { DemandSchema, make, RequestEventSchema, STREAMS, subjects, timestampNow } from "@inferd/protocol";
import type { EventSink } from "../options.ts";

/**
 * Publishes RequestEvents on `inferd.v1.requests.<model>` and Demand on
 * `inferd.v1.autoscale.demand.<model>`. Plain (core) publishes, fire and forget: the
 * INFERD_REQUESTS stream captures them without the gateway waiting for an acknowledgement on
 * the request path; a lost event costs accounting precision, never a request.
 */
export function natsEventSink(nc: NatsConnection, gatewayId: string, prefix?: string): EventSink {
  const s = subjects(prefix);
  const requestSubjects = new Map<string, string>();
  const requestHeaders = messageHeaders(RequestEventSchema);
  const demandHeaders = messageHeaders(DemandSchema);
  return {
    requestEvent(model, event) {
      let subject = requestSubjects.get(model);
      if (subject === undefined) {
        subject = s.requests(model);
        requestSubjects.set(model, subject);
      }
      if (nc.isClosed()) return;
      nc.publish(subject, encodeMessage(RequestEventSchema, event), { headers: requestHeaders });
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
      nc.publish(s.demand(model), encodeMessage(DemandSchema, msg), { headers: demandHeaders });
    },
  };
}

/**
 * Creates the INFERD_REQUESTS stream when nobody has yet (an hour of lifecycle events, file
 * storage). An existing stream is left exactly as its owner configured it.
 */
export async function ensureRequestStream(
  nc: NatsConnection,
  prefix?: string,
): Promise<"created" | "exists"> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(STREAMS.requests);
    return "exists";
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
  }
  await jsm.streams.add({
    name: STREAMS.requests,
    subjects: [subjects(prefix).requestsAll()],
    max_age: 3600 * 1_000_000_000,
  });
  return "created";
}
