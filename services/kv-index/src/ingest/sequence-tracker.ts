/**
 * What a sequence number means for one engine (a pod's data-parallel rank), given the last one
 * seen. vLLM numbers batches from 0 per publisher process (reference §1.2-§1.3).
 */
export type SeqVerdict =
  /** First batch seen from this engine; `missed` batches before it may be replayable. */
  | { kind: "first"; missed: boolean }
  | { kind: "next" }
  /** Already seen (a replay overlapping live traffic, a duplicate frame): skip. */
  | { kind: "duplicate" }
  /** Batches `from`..`seq - 1` were lost: replay them. */
  | { kind: "gap"; from: bigint }
  /** Sequence went backwards: the engine restarted with an empty cache. */
  | { kind: "restart"; previous: bigint };

export function judgeSeq(last: bigint | undefined, seq: bigint): SeqVerdict {
  if (last === undefined) return { kind: "first", missed: seq > 0n };
  if (seq === last + 1n) return { kind: "next" };
  if (seq === last) return { kind: "duplicate" };
  if (seq > last) return { kind: "gap", from: last + 1n };
  return { kind: "restart", previous: last };
}
