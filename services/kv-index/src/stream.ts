import { DiscardPolicy, ensureStream, type NatsConnection, StorageType } from "@inferd/bus";
import type { Subjects } from "@inferd/protocol";

export interface KvStreamOptions {
  /** Keep events this long (seconds). The index is rebuilt from what the stream keeps. */
  maxAgeSeconds: number;
  /** Keep at most this many bytes (oldest dropped first). */
  maxBytes: number;
  replicas?: number;
  /** Window in which a repeated Nats-Msg-Id is dropped (seconds, default 120). */
  duplicateWindowSeconds?: number;
}

/**
 * Creates (or updates) `<PREFIX>_KV_EVENTS`. Limits retention: a rebuilt index knows the blocks
 * whose BlockStored is still in the stream, so max age should exceed how long blocks live in
 * the engines' caches (see README, "Rebuilding the index").
 */
export async function ensureKvEventsStream(nc: NatsConnection, subjects: Subjects, options: KvStreamOptions) {
  const nanos = (s: number) => Math.round(s * 1e9);
  return ensureStream(nc, {
    name: subjects.streams.kvEvents,
    subjects: [subjects.kvEventsAll()],
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(options.maxAgeSeconds),
    max_bytes: options.maxBytes,
    num_replicas: options.replicas ?? 1,
    duplicate_window: nanos(options.duplicateWindowSeconds ?? 120),
  });
}
