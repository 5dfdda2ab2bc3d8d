import { DeliverPolicy, decodeMessage, jetStreamClient, type NatsConnection } from "@inferd/bus";
import { type KvEventBatch, KvEventBatchSchema, subjects as subjectsOf } from "@inferd/protocol";

export interface TailOptions {
  model?: string;
  pod?: string;
  subjectPrefix?: string;
  /** "new" (default): from now on; "all": from the start of the stream. */
  from?: "new" | "all";
}

/**
 * Follows INFERD_KV_EVENTS with an ordered consumer (no state left on the server) and calls
 * `onBatch` for each batch, optionally for one model and/or pod. For `inferd kv tail`.
 * Returns a function that stops following.
 */
export async function tailKvEvents(
  nc: NatsConnection,
  options: TailOptions,
  onBatch: (batch: KvEventBatch, info: { streamSeq: number; subject: string }) => void,
): Promise<() => Promise<void>> {
  const s = subjectsOf(options.subjectPrefix);
  const filter =
    options.model !== undefined && options.pod !== undefined
      ? s.kvEvents(options.model, options.pod)
      : options.model !== undefined
        ? s.kvEventsOfModel(options.model)
        : s.kvEventsAll();
  const consumer = await jetStreamClient(nc).consumers.get(s.streams.kvEvents, {
    filter_subjects: filter,
    deliver_policy: options.from === "all" ? DeliverPolicy.All : DeliverPolicy.New,
  });
  const messages = await consumer.consume();
  const done = (async () => {
    for await (const m of messages) {
      let batch: KvEventBatch;
      try {
        batch = decodeMessage(m, KvEventBatchSchema);
      } catch {
        continue;
      }
      if (options.pod !== undefined && batch.pod !== options.pod) continue;
      onBatch(batch, { streamSeq: m.seq, subject: m.subject });
    }
  })();
  return async () => {
    await messages.close();
    await done;
  };
}
