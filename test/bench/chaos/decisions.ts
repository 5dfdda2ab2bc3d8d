import { jetstream, jetstreamManager, type NatsConnection } from "@inferd/bus";
import { decode, RequestEventSchema, RequestPhase, STREAMS } from "@inferd/protocol";

/**
 * Request ids with a ROUTED event in the INFERD_REQUESTS stream: the routing decisions that
 * reached durable storage. Reads the whole stream once (ordered consumer) up to its last message.
 */
export async function routedRequestIds(nc: NatsConnection): Promise<Set<string>> {
  const ids = new Set<string>();
  const last = (await (await jetstreamManager(nc)).streams.info(STREAMS.requests)).state.last_seq;
  if (last === 0) return ids;
  const consumer = await jetstream(nc).consumers.get(STREAMS.requests);
  const messages = await consumer.consume();
  for await (const m of messages) {
    const ev = decode(RequestEventSchema, m.data);
    if (ev.phase === RequestPhase.ROUTED) ids.add(ev.requestId);
    if (m.seq >= last) break;
  }
  await messages.close();
  return ids;
}

/** Successful requests whose routing decision is absent from the stream. Pure. */
export function lostDecisions(succeeded: readonly string[], routed: ReadonlySet<string>): number {
  let lost = 0;
  for (const id of succeeded) if (!routed.has(id)) lost++;
  return lost;
}
