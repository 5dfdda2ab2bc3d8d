import { jetstream, jetstreamManager, type NatsConnection } from "@inferd/bus";
import { decode, RequestEventSchema, RequestPhase, STREAMS } from "@inferd/protocol";

/** Request ids per lifecycle phase stored in INFERD_REQUESTS: the events that reached durable storage. */
export interface StoredLifecycle {
  routed: Set<string>;
  completed: Set<string>;
  /** Every RequestEvent in the stream. */
  events: number;
}

/** Reads the whole INFERD_REQUESTS stream once (ordered consumer) up to its last message. */
export async function storedLifecycle(nc: NatsConnection): Promise<StoredLifecycle> {
  const out: StoredLifecycle = { routed: new Set(), completed: new Set(), events: 0 };
  const last = (await (await jetstreamManager(nc)).streams.info(STREAMS.requests)).state.last_seq;
  if (last === 0) return out;
  const consumer = await jetstream(nc).consumers.get(STREAMS.requests);
  const messages = await consumer.consume();
  for await (const m of messages) {
    const ev = decode(RequestEventSchema, m.data);
    out.events++;
    if (ev.phase === RequestPhase.ROUTED) out.routed.add(ev.requestId);
    if (ev.phase === RequestPhase.COMPLETED) out.completed.add(ev.requestId);
    if (m.seq >= last) break;
  }
  await messages.close();
  return out;
}

/** ScaleDecisions stored in INFERD_DECISIONS (0 when the stream does not exist). */
export async function storedScaleDecisions(nc: NatsConnection): Promise<number> {
  try {
    return (await (await jetstreamManager(nc)).streams.info(STREAMS.decisions)).state.messages;
  } catch {
    return 0;
  }
}

/** Successful requests whose event of a phase is absent from the stream. Pure. */
export function lostDecisions(succeeded: readonly string[], stored: ReadonlySet<string>): number {
  let lost = 0;
  for (const id of succeeded) if (!stored.has(id)) lost++;
  return lost;
}
