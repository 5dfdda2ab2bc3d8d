import type { KvEventBatch } from "@inferd/protocol";

interface Handed {
  subject: string;
  data: Uint8Array;
  batch: KvEventBatch;
}

/**
 * Hands the ingest's published batches to the indexer of the same process, so the indexer does
 * not decode what this process just encoded (the protobuf decode and the NATS header parse of
 * each delivery were ~4 % of kv-index's CPU per batch and ~12 kB of its ~86 kB of garbage).
 *
 * The stream stays the only source: the indexer still consumes every message in stream order and
 * acknowledges it; only the decoding is skipped, and only when the delivered message is
 * byte-for-byte the one this process published at that stream sequence (same subject, same
 * payload). Then the decoded message equals the published object, because `encode` round-trips
 * every batch the ingest accepts into the handoff (`roundTrips`; property-tested). Anything else
 * — the PubAck came after the delivery, a rebuild from older messages, another ingest's batch —
 * is decoded as before.
 */
export class BatchHandoff {
  readonly #max: number;
  /** By stream sequence, in insertion order (the oldest is evicted first). */
  readonly #bySeq = new Map<number, Handed>();
  hits = 0;
  misses = 0;

  /** `max` batches held at most (deliveries the indexer never takes: other models, a stopped indexer). */
  constructor(max = 4096) {
    this.#max = max;
  }

  get size(): number {
    return this.#bySeq.size;
  }

  /** The stream stored `batch` (encoded as `data`, on `subject`) at `seq`. */
  put(seq: number, subject: string, data: Uint8Array, batch: KvEventBatch): void {
    if (!roundTrips(batch)) return;
    this.#bySeq.delete(seq);
    this.#bySeq.set(seq, { subject, data, batch });
    if (this.#bySeq.size > this.#max) this.#bySeq.delete(this.#bySeq.keys().next().value!);
  }

  /** The published batch if the delivery at `seq` is exactly it; undefined: decode the delivery. */
  take(seq: number, subject: string, data: Uint8Array): KvEventBatch | undefined {
    const h = this.#bySeq.get(seq);
    if (h === undefined) {
      this.misses++;
      return undefined;
    }
    this.#bySeq.delete(seq);
    if (h.subject !== subject || !sameBytes(h.data, data)) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return h.batch;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * Whether decoding `batch`'s protobuf encoding gives it back. Integers are in range by
 * construction (the vLLM event decoder refuses out-of-range ids and sizes; doubles, -0 and NaN
 * included, are written as they are); what protobuf cannot carry is a string that is not
 * well-formed UTF-16 (a lone surrogate becomes U+FFFD in UTF-8).
 */
export function roundTrips(batch: KvEventBatch): boolean {
  if (!batch.model.isWellFormed() || !batch.pod.isWellFormed()) return false;
  for (const e of batch.events) {
    const ev = e.event;
    if (ev.case === "blockStored") {
      const v = ev.value;
      if (
        !v.medium.isWellFormed() ||
        !v.kvCacheSpecKind.isWellFormed() ||
        !v.locality.isWellFormed() ||
        !v.ownership.isWellFormed() ||
        !v.sessionId.isWellFormed() ||
        (v.loraName !== undefined && !v.loraName.isWellFormed())
      )
        return false;
    } else if (ev.case === "blockRemoved") {
      const v = ev.value;
      if (!v.medium.isWellFormed() || !v.locality.isWellFormed() || !v.ownership.isWellFormed()) return false;
    } else if (ev.case === "podReset") {
      if (!ev.value.reason.isWellFormed()) return false;
    }
  }
  return true;
}
