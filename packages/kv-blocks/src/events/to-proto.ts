import {
  type KvEventBatch,
  KvEventBatchSchema,
  type KvEventSchema,
  make,
  StorageTier,
} from "@inferd/protocol";
import { decode as decodeCbor } from "cborg";
import { encodeCanonicalCbor } from "../cbor/canonical.ts";
import type { DecodedBatch, DecodedEvent, ExtraKeys } from "./types.ts";

export interface ToProtoContext {
  readonly model: string;
  readonly pod: string;
  readonly seq: bigint;
  /** When kv-index received the batch (ms since epoch); default now. */
  readonly receivedUnixMs?: number;
  /** True when the batch came from a replay request. */
  readonly replayed?: boolean;
}

/**
 * vLLM `medium` (+ `ownership`, 0.29+) -> tier: null or "GPU" -> GPU, "CPU" -> CPU, anything else
 * ("STORAGE", ...) -> DISK with the raw string kept. A block with an `ownership` belongs to an
 * offloading connector's tier and is not in GPU memory, whatever the medium says: never GPU (CPU).
 */
export function tierOfMedium(
  medium: string | null,
  ownership: string | null = null,
): { tier: StorageTier; medium: string } {
  const upper = medium === null ? "GPU" : medium.toUpperCase();
  if (upper === "GPU") return { tier: ownership === null ? StorageTier.GPU : StorageTier.CPU, medium: "" };
  if (upper === "CPU") return { tier: StorageTier.CPU, medium: "" };
  return { tier: StorageTier.DISK, medium: medium! };
}

const EMPTY = new Uint8Array(0);

/** Per-block extra keys as canonical CBOR (empty bytes = None); an absent or all-None list maps to []. */
export function extraKeysToProto(extra: readonly ExtraKeys[] | null): Uint8Array[] {
  if (extra === null || extra.every((k) => k === null)) return [];
  return extra.map((k) => (k === null ? EMPTY : encodeCanonicalCbor(k)));
}

// The init shape of a KvEvent (protocol does not re-export protobuf-es's MessageInitShape).
function isExtraKeyValue(v: unknown): boolean {
  if (v === null || ["boolean", "number", "bigint", "string"].includes(typeof v) || v instanceof Uint8Array)
    return true;
  return Array.isArray(v) && v.every(isExtraKeyValue);
}

/**
 * Inverse of extraKeysToProto: per-block extra keys from `BlockStored.extra_keys` of the protobuf
 * (empty bytes = None; an empty list = null, i.e. "not sent"). Throws on bytes that are not a
 * CBOR array of extra-key values.
 */
export function extraKeysFromProto(extraKeys: readonly Uint8Array[]): ExtraKeys[] | null {
  if (extraKeys.length === 0) return null;
  return extraKeys.map((bytes, i) => {
    if (bytes.length === 0) return null;
    let value: unknown;
    try {
      value = decodeCbor(bytes);
    } catch (err) {
      throw new Error(`extra_keys[${i}] is not CBOR: ${(err as Error).message}`);
    }
    if (!Array.isArray(value) || !isExtraKeyValue(value)) {
      throw new Error(`extra_keys[${i}] is not a CBOR array of strings, ints, bytes or arrays`);
    }
    return value as ExtraKeys;
  });
}

type KvEventInit = NonNullable<Parameters<typeof make<typeof KvEventSchema>>[1]>;

function eventToProto(event: DecodedEvent): KvEventInit | null {
  switch (event.type) {
    case "BlockStored": {
      const { tier, medium } = tierOfMedium(event.medium, event.ownership);
      const lookahead = event.lookaheadTokenIds;
      return {
        event: {
          case: "blockStored",
          value: {
            blockHashes: event.blockHashes,
            parentBlockHash: event.parentBlockHash ?? undefined,
            tokenIds: event.tokenIds,
            blockSize: event.blockSize ?? 0,
            loraId: event.loraId === null ? undefined : BigInt(event.loraId),
            loraName: event.loraName ?? undefined,
            tier,
            medium,
            extraKeys: extraKeysToProto(event.extraKeys),
            groupIdx: event.groupIdx ?? undefined,
            kvCacheSpecKind: event.kvCacheSpecKind ?? "",
            locality: event.locality ?? "",
            ownership: event.ownership ?? "",
            sessionId: event.sessionId ?? "",
            lookaheadTokenIds: lookahead ? lookahead.flat() : [],
            lookaheadTokens: lookahead?.[0]?.length ?? 0,
          },
        },
      };
    }
    case "BlockRemoved": {
      const { tier, medium } = tierOfMedium(event.medium, event.ownership);
      return {
        event: {
          case: "blockRemoved",
          value: {
            blockHashes: event.blockHashes,
            tier,
            medium,
            groupIdx: event.groupIdx ?? undefined,
            locality: event.locality ?? "",
            ownership: event.ownership ?? "",
          },
        },
      };
    }
    case "AllBlocksCleared":
      return { event: { case: "allBlocksCleared", value: {} } };
    case "Unknown":
      return null;
  }
}

/**
 * Maps a decoded vLLM batch to the normalised `inferd.v1.KvEventBatch` that kv-index publishes.
 * Events of unknown type are dropped (there is nothing an indexer could do with them);
 * `data_parallel_rank` None becomes 0.
 */
export function toProtoBatch(decoded: DecodedBatch, ctx: ToProtoContext): KvEventBatch {
  const events: KvEventInit[] = [];
  for (const e of decoded.events) {
    const p = eventToProto(e);
    if (p !== null) events.push(p);
  }
  return make(KvEventBatchSchema, {
    model: ctx.model,
    pod: ctx.pod,
    dataParallelRank: decoded.dataParallelRank ?? 0,
    seq: ctx.seq,
    tsSeconds: decoded.ts,
    events,
    receivedUnixMs: BigInt(Math.trunc(ctx.receivedUnixMs ?? Date.now())),
    replayed: ctx.replayed ?? false,
  });
}
