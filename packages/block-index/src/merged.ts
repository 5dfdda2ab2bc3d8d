import { type KvEventBatch, KvEventBatchSchema, make } from "@inferd/protocol";

/**
 * The part of a stream message that comes after engine seq `applied`, when the message merges
 * batches `first_seq..seq` (kv-index ingest's coalescing) and `applied` falls inside that range:
 * the same engine batches merged differently by another ingest (two ingests hearing one engine,
 * e.g. during a rolling update) are then applied once, not twice (a stored block counted as two
 * copies would never be removed). Undefined when `batch_event_counts` does not describe the
 * events (not written by kv-index): the caller applies the message whole.
 */
export function batchesAfter(batch: KvEventBatch, applied: bigint): KvEventBatch | undefined {
  const first = batch.firstSeq;
  const counts = batch.batchEventCounts;
  if (first === undefined || applied < first || applied >= batch.seq) return undefined;
  if (counts.length !== Number(batch.seq - first) + 1) return undefined;
  let total = 0;
  for (const c of counts) total += c;
  if (total !== batch.events.length) return undefined;
  const skip = Number(applied - first) + 1;
  let from = 0;
  for (let i = 0; i < skip; i++) from += counts[i]!;
  const rest = counts.slice(skip);
  return make(KvEventBatchSchema, {
    ...batch,
    events: batch.events.slice(from),
    ...(rest.length > 1
      ? { firstSeq: applied + 1n, batchEventCounts: rest }
      : { firstSeq: undefined, batchEventCounts: [] }),
  });
}
