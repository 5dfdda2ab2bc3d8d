import { vllmRules } from "../hashing/vllm-version.ts";
import { BATCH_FIELDS, BLOCK_REMOVED_FIELDS, BLOCK_STORED_FIELDS } from "./decode.ts";
import { type MsgpackValue, MsgpackWriter } from "./msgpack-writer.ts";
import type { DecodedEvent, EventEncoding, ExtraKeys } from "./types.ts";

/** A block hash to encode: uint64 int form (vLLM default) or raw digest bytes (`VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0`). */
export type EncodableHash = bigint | Uint8Array;

/** Input of the encoder. Same shape as the decoder's output; omitted optional fields are None. */
export type EncodableEvent =
  | {
      readonly type: "BlockStored";
      readonly blockHashes: readonly EncodableHash[];
      readonly parentBlockHash?: EncodableHash | null;
      readonly tokenIds: readonly number[];
      readonly blockSize: number | null;
      readonly loraId?: number | null;
      readonly medium?: string | null;
      readonly loraName?: string | null;
      readonly extraKeys?: readonly ExtraKeys[] | null;
      readonly groupIdx?: number | null;
      readonly kvCacheSpecKind?: string | null;
      readonly kvCacheSpecSlidingWindow?: number | null;
      readonly locality?: string | null;
      readonly ownership?: string | null;
      readonly sessionId?: string | null;
      readonly lookaheadTokenIds?: readonly (readonly number[])[] | null;
    }
  | {
      readonly type: "BlockRemoved";
      readonly blockHashes: readonly EncodableHash[];
      readonly medium?: string | null;
      readonly groupIdx?: number | null;
      readonly locality?: string | null;
      readonly ownership?: string | null;
    }
  | { readonly type: "AllBlocksCleared" };

export interface EncodableBatch {
  readonly ts: number;
  readonly events: readonly (EncodableEvent | DecodedEvent)[];
  readonly dataParallelRank?: number | null;
}

/**
 * Historical array layouts (reference §1.4), to emulate older engines: how many fields
 * BlockStored / BlockRemoved carry and whether the batch has `data_parallel_rank`.
 */
export const ARRAY_LAYOUTS = {
  /** v0.9.0: BlockStored(hashes, parent, tokens, block_size, lora_id); batch [ts, events]. */
  "v0.9": { blockStored: 5, blockRemoved: 1, dataParallelRank: false },
  /** + medium (v0.11.x); batch [ts, events, dp_rank]. */
  "v0.11": { blockStored: 6, blockRemoved: 2, dataParallelRank: true },
  /** + lora_name (v0.15.x). */
  "v0.15": { blockStored: 7, blockRemoved: 2, dataParallelRank: true },
  /** + extra_keys, group_idx, kv_cache_spec_kind, kv_cache_spec_sliding_window (0.22 - 0.23; maps from 0.24). */
  "v0.22": { blockStored: 11, blockRemoved: 3, dataParallelRank: true },
} as const;
export type ArrayLayout = keyof typeof ARRAY_LAYOUTS;

export interface EncodeOptions {
  /**
   * Write what this vLLM version writes (its event form and exactly its declared fields); takes
   * precedence over `encoding` and `arrayLayout`.
   */
  readonly vllmVersion?: string;
  /** Event encoding: "array" = vLLM <= 0.23 (default), "map" = vLLM 0.24+. */
  readonly encoding?: EventEncoding;
  /** With array encoding: which vLLM version's field list to write (default "v0.22", all fields). */
  readonly arrayLayout?: ArrayLayout;
  /** Outer batch encoding; vLLM always sends an array (default). */
  readonly batchEncoding?: EventEncoding;
}

type Field = readonly [name: string, value: MsgpackValue, omitWhenNone: boolean];

const opt = <T extends MsgpackValue>(v: T | null | undefined): T | null => (v === undefined ? null : v);

function eventFields(event: EncodableEvent): Field[] {
  switch (event.type) {
    case "BlockStored": {
      const f = BLOCK_STORED_FIELDS;
      const extra =
        event.extraKeys === undefined || event.extraKeys === null ? null : (event.extraKeys as MsgpackValue);
      return [
        [f[0], event.blockHashes as readonly MsgpackValue[], false],
        [
          f[1],
          event.parentBlockHash === undefined || event.parentBlockHash === null
            ? null
            : event.parentBlockHash,
          false,
        ],
        [f[2], event.tokenIds, false],
        [f[3], opt(event.blockSize), false],
        [f[4], opt(event.loraId), false],
        [f[5], opt(event.medium), false],
        [f[6], opt(event.loraName), false],
        // Declared with a default of None in vLLM: msgspec omit_defaults drops them from maps.
        [f[7], extra, true],
        [f[8], opt(event.groupIdx), true],
        [f[9], opt(event.kvCacheSpecKind), true],
        [f[10], opt(event.kvCacheSpecSlidingWindow), true],
        [f[11], opt(event.locality), true],
        [f[12], opt(event.ownership), true],
        [f[13], opt(event.sessionId), true],
        [f[14], opt(event.lookaheadTokenIds as MsgpackValue), true],
      ];
    }
    case "BlockRemoved": {
      const f = BLOCK_REMOVED_FIELDS;
      return [
        [f[0], event.blockHashes as readonly MsgpackValue[], false],
        [f[1], opt(event.medium), false],
        [f[2], opt(event.groupIdx), true],
        [f[3], opt(event.locality), true],
        [f[4], opt(event.ownership), true],
      ];
    }
    case "AllBlocksCleared":
      return [];
  }
}

/** How many declared fields BlockStored / BlockRemoved have in the engine being written. */
interface FieldCounts {
  readonly blockStored: number;
  readonly blockRemoved: number;
}

function writeEvent(
  w: MsgpackWriter,
  event: EncodableEvent,
  encoding: EventEncoding,
  counts: FieldCounts,
): void {
  let fields = eventFields(event);
  if (event.type === "BlockStored") fields = fields.slice(0, counts.blockStored);
  else if (event.type === "BlockRemoved") fields = fields.slice(0, counts.blockRemoved);
  if (encoding === "array") {
    // msgspec array_like structs carry every declared field, nil when None (omit_defaults does not thin arrays).
    w.arrayHeader(fields.length + 1);
    w.str(event.type);
    for (const [, value] of fields) w.write(value);
    return;
  }
  const present = fields.filter(([, value, omit]) => !(omit && value === null));
  w.mapHeader(present.length + 1, fields.length + 1);
  w.str("type");
  w.str(event.type);
  for (const [name, value] of present) {
    w.str(name);
    w.write(value);
  }
}

/**
 * Encodes a KV-event batch exactly as vLLM's `msgspec.msgpack.Encoder().encode(KVEventBatch)`:
 * array-form events carry all their version's fields (12 elements for BlockStored in 0.17-0.23),
 * map-form events omit the fields declared with a default (`extra_keys` onwards) when None; `ts` is always a
 * float64; integers take their shortest form (uint64 `0xcf` for large hashes).
 * Events of type "Unknown" cannot be encoded and throw.
 */
export function encodeKvEventBatch(batch: EncodableBatch, options: EncodeOptions = {}): Uint8Array {
  const rules = options.vllmVersion === undefined ? null : vllmRules(options.vllmVersion);
  const encoding = rules?.eventForm ?? options.encoding ?? "array";
  const layout = options.arrayLayout ?? "v0.22";
  if (!Object.hasOwn(ARRAY_LAYOUTS, layout))
    throw new RangeError(`unknown array layout ${JSON.stringify(layout)}`);
  // Without a version, maps carry every field inferd knows; arrays the layout's fields.
  const counts: FieldCounts = rules
    ? { blockStored: rules.blockStoredFields.length, blockRemoved: rules.blockRemovedFields.length }
    : encoding === "map"
      ? { blockStored: BLOCK_STORED_FIELDS.length, blockRemoved: BLOCK_REMOVED_FIELDS.length }
      : ARRAY_LAYOUTS[layout];
  const withDp = rules !== null || encoding === "map" || ARRAY_LAYOUTS[layout].dataParallelRank;
  const w = new MsgpackWriter();
  const dp = batch.dataParallelRank ?? null;
  if ((options.batchEncoding ?? "array") === "array") {
    w.arrayHeader(withDp ? 3 : 2);
  } else {
    w.mapHeader(dp === null ? 2 : 3);
    w.str(BATCH_FIELDS[0]);
  }
  w.float64(batch.ts);
  if (options.batchEncoding === "map") w.str(BATCH_FIELDS[1]);
  w.arrayHeader(batch.events.length);
  for (const event of batch.events) {
    if (event.type === "Unknown")
      throw new Error(`cannot encode an event of unknown type ${JSON.stringify(event.tag)}`);
    writeEvent(w, event, encoding, counts);
  }
  if (options.batchEncoding === "map") {
    if (dp !== null) {
      w.str(BATCH_FIELDS[2]);
      w.write(dp);
    }
  } else if (withDp) {
    w.write(dp);
  }
  return w.bytes();
}
