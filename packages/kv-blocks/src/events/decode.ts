import { Decoder } from "@msgpack/msgpack";
import { MalformedKvEventError } from "../errors.ts";
import type {
  DecodedBatch,
  DecodedBlockRemoved,
  DecodedBlockStored,
  DecodedEvent,
  EventEncoding,
  ExtraKeys,
  ExtraKeyValue,
} from "./types.ts";

// Field order = wire order of vLLM's msgspec structs in array mode (reference §1.4). Older
// engines send a prefix of these lists; newer ones may append fields we do not know (ignored).
export const BLOCK_STORED_FIELDS = [
  "block_hashes",
  "parent_block_hash",
  "token_ids",
  "block_size",
  "lora_id",
  "medium",
  "lora_name",
  "extra_keys",
  "group_idx",
  "kv_cache_spec_kind",
  "kv_cache_spec_sliding_window",
  "locality",
  "ownership",
  "session_id",
  "lookahead_token_ids",
] as const;
export const BLOCK_REMOVED_FIELDS = ["block_hashes", "medium", "group_idx", "locality", "ownership"] as const;
/** vLLM 0.23, the last version with array-form events, declares this many fields. */
const ARRAY_ERA_STORED_FIELDS = 11;
const ARRAY_ERA_REMOVED_FIELDS = 3;
export const BATCH_FIELDS = ["ts", "events", "data_parallel_rank"] as const;

// uint64 values arrive as bigint (0xcf / 0xd3), smaller ones as numbers.
const decoder = new Decoder({ useBigInt64: true });
const U64 = 64;

function fail(where: string, problem: string): never {
  throw new MalformedKvEventError(`malformed vLLM KV event batch: ${where}: ${problem}`);
}

function describe(v: unknown): string {
  if (v === null) return "nil";
  if (v === undefined) return "nothing";
  if (v instanceof Uint8Array) return `bin(${v.length} bytes)`;
  if (Array.isArray(v)) return `array(${v.length})`;
  if (typeof v === "object") return "map";
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Reads field `name` (declared at position `index`) of an event or batch in either encoding. */
type FieldReader = (name: string, index: number) => unknown;

function readerFor(
  raw: unknown[] | Record<string, unknown>,
  offset: number,
  arrayFields = Infinity,
): FieldReader {
  // Array-form events end at the fields of the last array-form vLLM (0.23); later elements are unknown.
  if (Array.isArray(raw)) return (_name, index) => (index < arrayFields ? raw[index + offset] : undefined);
  return (name) => (Object.hasOwn(raw, name) ? raw[name] : undefined);
}

/** Normalises any wire form of a block hash to uint64: unsigned int, signed int, or bytes (last 8, big-endian). */
export function toUint64Hash(v: unknown, where: string): bigint {
  if (typeof v === "bigint") return BigInt.asUintN(U64, v);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) fail(where, `expected an integer block hash, got ${describe(v)}`);
    return BigInt.asUintN(U64, BigInt(v));
  }
  if (v instanceof Uint8Array) {
    if (v.length === 0) fail(where, "expected a block hash, got empty bytes");
    let h = 0n;
    for (let i = Math.max(0, v.length - 8); i < v.length; i++) h = (h << 8n) | BigInt(v[i]!);
    return h;
  }
  return fail(where, `expected a block hash (int or bytes), got ${describe(v)}`);
}

function hashList(v: unknown, where: string): bigint[] {
  if (!Array.isArray(v)) fail(where, `expected an array of block hashes, got ${describe(v)}`);
  const out = new Array<bigint>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = toUint64Hash(v[i], `${where}[${i}]`);
  return out;
}

function optionalHash(v: unknown, where: string): bigint | null {
  return v === null || v === undefined ? null : toUint64Hash(v, where);
}

function optionalInt(v: unknown, where: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  if (typeof v === "bigint" && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(v);
  }
  return fail(where, `expected an integer or nil, got ${describe(v)}`);
}

/**
 * An optional integer that travels as a protobuf uint32 (block size, KV group, data-parallel
 * rank): anything outside 0..2^32-1 is malformed here rather than an encoder error downstream.
 */
function optionalUint32(v: unknown, where: string): number | null {
  const n = optionalInt(v, where);
  if (n !== null && (n < 0 || n > 0xffffffff)) return fail(where, `expected 0..4294967295, got ${n}`);
  return n;
}

function optionalString(v: unknown, where: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  return fail(where, `expected a string or nil, got ${describe(v)}`);
}

function tokenList(v: unknown, where: string): number[] {
  // vLLM always sends the list; tolerate nil from placeholder producers as "no tokens".
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) fail(where, `expected an array of token ids, got ${describe(v)}`);
  for (let i = 0; i < v.length; i++) {
    const t = v[i];
    if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t > 0xffffffff) {
      fail(`${where}[${i}]`, `expected a token id (uint32), got ${describe(t)}`);
    }
  }
  return v as number[];
}

function lookaheadLists(v: unknown, where: string): number[][] | null {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) fail(where, `expected an array of token-id lists or nil, got ${describe(v)}`);
  return v.map((tokens, i) => tokenList(tokens, `${where}[${i}]`));
}

function extraKeyValue(v: unknown, where: string): ExtraKeyValue {
  if (
    v === null ||
    typeof v === "boolean" ||
    typeof v === "number" ||
    typeof v === "bigint" ||
    typeof v === "string" ||
    v instanceof Uint8Array
  ) {
    return v;
  }
  if (Array.isArray(v)) return v.map((item, i) => extraKeyValue(item, `${where}[${i}]`));
  return fail(where, `expected an extra-key value (str, int, bytes or tuple), got ${describe(v)}`);
}

function extraKeysList(v: unknown, where: string): ExtraKeys[] | null {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) fail(where, `expected an array of per-block extra keys or nil, got ${describe(v)}`);
  return v.map((block, i): ExtraKeys => {
    if (block === null) return null;
    if (!Array.isArray(block)) fail(`${where}[${i}]`, `expected a tuple or nil, got ${describe(block)}`);
    return block.map((item, j) => extraKeyValue(item, `${where}[${i}][${j}]`));
  });
}

function decodeBlockStored(get: FieldReader, where: string): DecodedBlockStored {
  const f = BLOCK_STORED_FIELDS;
  const at = (i: number) => `${where}.${f[i]}`;
  return {
    type: "BlockStored",
    blockHashes: hashList(get(f[0], 0), at(0)),
    parentBlockHash: optionalHash(get(f[1], 1), at(1)),
    tokenIds: tokenList(get(f[2], 2), at(2)),
    blockSize: optionalUint32(get(f[3], 3), at(3)),
    loraId: optionalInt(get(f[4], 4), at(4)),
    medium: optionalString(get(f[5], 5), at(5)),
    loraName: optionalString(get(f[6], 6), at(6)),
    extraKeys: extraKeysList(get(f[7], 7), at(7)),
    groupIdx: optionalUint32(get(f[8], 8), at(8)),
    kvCacheSpecKind: optionalString(get(f[9], 9), at(9)),
    kvCacheSpecSlidingWindow: optionalInt(get(f[10], 10), at(10)),
    locality: optionalString(get(f[11], 11), at(11)),
    ownership: optionalString(get(f[12], 12), at(12)),
    sessionId: optionalString(get(f[13], 13), at(13)),
    lookaheadTokenIds: lookaheadLists(get(f[14], 14), at(14)),
  };
}

function decodeBlockRemoved(get: FieldReader, where: string): DecodedBlockRemoved {
  const f = BLOCK_REMOVED_FIELDS;
  return {
    type: "BlockRemoved",
    blockHashes: hashList(get(f[0], 0), `${where}.${f[0]}`),
    medium: optionalString(get(f[1], 1), `${where}.${f[1]}`),
    groupIdx: optionalUint32(get(f[2], 2), `${where}.${f[2]}`),
    locality: optionalString(get(f[3], 3), `${where}.${f[3]}`),
    ownership: optionalString(get(f[4], 4), `${where}.${f[4]}`),
  };
}

function decodeEvent(raw: unknown, where: string): { event: DecodedEvent; encoding: EventEncoding } {
  let tag: unknown;
  let get: FieldReader;
  let encoding: EventEncoding;
  if (Array.isArray(raw)) {
    if (raw.length === 0) fail(where, "empty event array (no type tag)");
    tag = raw[0];
    get = readerFor(raw, 1, tag === "BlockRemoved" ? ARRAY_ERA_REMOVED_FIELDS : ARRAY_ERA_STORED_FIELDS);
    encoding = "array";
  } else if (isPlainMap(raw)) {
    tag = raw.type;
    get = readerFor(raw, 0);
    encoding = "map";
  } else {
    return fail(where, `expected an event (array or map), got ${describe(raw)}`);
  }
  if (typeof tag !== "string") fail(where, `expected a string type tag, got ${describe(tag)}`);
  const at = `${where} (${tag})`;
  switch (tag) {
    case "BlockStored":
      return { event: decodeBlockStored(get, at), encoding };
    case "BlockRemoved":
      return { event: decodeBlockRemoved(get, at), encoding };
    case "AllBlocksCleared":
      return { event: { type: "AllBlocksCleared" }, encoding };
    default:
      return { event: { type: "Unknown", tag }, encoding };
  }
}

/**
 * Decodes the msgpack payload (third ZeroMQ frame) of a vLLM `KVEventBatch`.
 *
 * Accepts the outer batch as an array `[ts, events, data_parallel_rank?]` or a map, and each
 * event as a tagged array (vLLM <= 0.23, any historical length) or a tagged map (0.24+).
 * Unknown fields and extra trailing elements are ignored; absent fields are null; hashes in
 * unsigned, signed or bytes form become uint64 bigints. Unknown event tags become
 * `{type: "Unknown"}` events. Anything else throws MalformedKvEventError.
 */
export function decodeKvEventBatch(payload: Uint8Array): DecodedBatch {
  let raw: unknown;
  try {
    raw = decoder.decode(payload);
  } catch (err) {
    throw new MalformedKvEventError(
      `malformed vLLM KV event batch: payload (${payload.length} bytes) is not one msgpack value: ${(err as Error).message}`,
    );
  }
  let get: FieldReader;
  if (Array.isArray(raw)) {
    if (raw.length < 2) fail("batch", `expected [ts, events, data_parallel_rank], got ${describe(raw)}`);
    get = readerFor(raw, 0);
  } else if (isPlainMap(raw)) {
    get = readerFor(raw, 0);
  } else {
    return fail("batch", `expected an array or map, got ${describe(raw)}`);
  }
  const ts = get(BATCH_FIELDS[0], 0);
  let tsSeconds: number;
  if (typeof ts === "number") tsSeconds = ts;
  else if (typeof ts === "bigint") tsSeconds = Number(ts);
  else return fail("batch.ts", `expected a number, got ${describe(ts)}`);
  // NaN or infinite timestamps would poison lag metrics and engine-restart checks downstream.
  if (!Number.isFinite(tsSeconds)) fail("batch.ts", `expected a finite number, got ${tsSeconds}`);
  const rawEvents = get(BATCH_FIELDS[1], 1);
  if (!Array.isArray(rawEvents)) fail("batch.events", `expected an array, got ${describe(rawEvents)}`);
  const dataParallelRank = optionalUint32(get(BATCH_FIELDS[2], 2), "batch.data_parallel_rank");

  const events = new Array<DecodedEvent>(rawEvents.length);
  let eventEncoding: DecodedBatch["eventEncoding"] = null;
  for (let i = 0; i < rawEvents.length; i++) {
    const { event, encoding } = decodeEvent(rawEvents[i], `events[${i}]`);
    events[i] = event;
    eventEncoding = eventEncoding === null || eventEncoding === encoding ? encoding : "mixed";
  }
  return { ts: tsSeconds, events, dataParallelRank, eventEncoding };
}
