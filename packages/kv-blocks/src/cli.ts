import type { DecodedBatch, DecodedEvent, ExtraKeyValue } from "./events/types.ts";
import {
  EngineBlockHasher,
  type EngineHashAlgo,
  type RequestExtraKeyInputs,
  resolveNoneHashSeed,
  vllmExtraKeys,
} from "./hashing/engine.ts";
import { requestKeyHasher } from "./hashing/request-keys.ts";
import { vllmRules } from "./hashing/vllm-version.ts";

/**
 * Pure helpers behind `inferd kv decode` and `inferd kv hash`: they turn decoded batches and
 * block hashes into JSON-ready values (uint64 as decimal strings, digests as hex).
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function extraValueToJson(v: ExtraKeyValue): Json {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString("hex") };
  if (Array.isArray(v)) return v.map(extraValueToJson);
  return v as Json;
}

function eventToJson(e: DecodedEvent): Json {
  switch (e.type) {
    case "BlockStored":
      return {
        type: e.type,
        block_hashes: e.blockHashes.map(String),
        parent_block_hash: e.parentBlockHash === null ? null : e.parentBlockHash.toString(),
        token_ids: e.tokenIds,
        block_size: e.blockSize,
        lora_id: e.loraId,
        medium: e.medium,
        lora_name: e.loraName,
        extra_keys:
          e.extraKeys === null ? null : e.extraKeys.map((k) => (k === null ? null : k.map(extraValueToJson))),
        group_idx: e.groupIdx,
        kv_cache_spec_kind: e.kvCacheSpecKind,
        kv_cache_spec_sliding_window: e.kvCacheSpecSlidingWindow,
        locality: e.locality,
        ownership: e.ownership,
        session_id: e.sessionId,
        lookahead_token_ids: e.lookaheadTokenIds,
      };
    case "BlockRemoved":
      return {
        type: e.type,
        block_hashes: e.blockHashes.map(String),
        medium: e.medium,
        group_idx: e.groupIdx,
        locality: e.locality,
        ownership: e.ownership,
      };
    case "AllBlocksCleared":
      return { type: e.type };
    case "Unknown":
      return { type: "Unknown", tag: e.tag };
  }
}

export interface BatchFrameInfo {
  readonly topic?: string;
  readonly seq?: bigint;
}

/**
 * A decoded batch as JSON with vLLM's own (snake_case) field names, hashes as decimal strings,
 * byte values as `{bytes: hex}`. Frame info (topic, seq) is included when given.
 */
export function batchToJson(decoded: DecodedBatch, frame: BatchFrameInfo = {}): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  if (frame.topic !== undefined) out.topic = frame.topic;
  if (frame.seq !== undefined) out.seq = frame.seq.toString();
  out.ts = decoded.ts;
  out.data_parallel_rank = decoded.dataParallelRank;
  out.event_encoding = decoded.eventEncoding;
  out.events = decoded.events.map(eventToJson);
  return out;
}

export interface HashLinesOptions extends RequestExtraKeyInputs {
  readonly algo: EngineHashAlgo;
  /**
   * PYTHONHASHSEED of the engine; absent/null = unset, resolved as that vLLM version does
   * ("vllm-none-hash" for sha256/sha256_cbor since 0.29). Throws when the engine's seed would be
   * random (then nobody can reproduce its hashes).
   */
  readonly seed?: string | null;
  /** The engine's vLLM version (default: current vLLM). */
  readonly vllmVersion?: string;
  /** EAGLE lookahead tokens (vLLM `num_hash_lookahead_tokens`, 0.33+). */
  readonly lookaheadTokens?: number;
  readonly blockSize: number;
  /** Also compute inferd request keys for this model. */
  readonly model?: string;
}

export interface HashLine {
  readonly block: number;
  /** Token range [start, end) of the block. */
  readonly start: number;
  readonly end: number;
  /** Full engine digest, hex (the chain's parent for the next block). */
  readonly digest: string;
  /** uint64 event form (what vLLM puts in BlockStored.block_hashes), decimal. */
  readonly hash: string;
  /** inferd request key, decimal (only when `model` is given). */
  readonly requestKey?: string;
}

/** One line per full block of `tokens`: vLLM digest + event hash (+ inferd request key). */
export function hashLines(tokens: ArrayLike<number>, options: HashLinesOptions): HashLine[] {
  const rules = vllmRules(options.vllmVersion);
  if (resolveNoneHashSeed(options.algo, options.seed, rules) === null) {
    throw new RangeError(
      `vLLM ${rules.version} with ${options.algo} and PYTHONHASHSEED unset seeds its hashes randomly per process: ` +
        "give the engine's PYTHONHASHSEED (--seed)" +
        (rules.fixedDefaultSeed ? "" : ", or use vLLM >= 0.29 with sha256/sha256_cbor"),
    );
  }
  const engine = new EngineBlockHasher({
    algo: options.algo,
    seed: options.seed,
    vllmVersion: options.vllmVersion,
  });
  const blocks = engine.blockHashes(tokens, options);
  const rk = options.model === undefined ? null : requestKeyHasher(options.model);
  let parentKey: bigint | null = null;
  return blocks.map((b, i) => {
    const start = i * options.blockSize;
    const end = start + options.blockSize;
    const line: { -readonly [K in keyof HashLine]: HashLine[K] } = {
      block: i,
      start,
      end,
      digest: Buffer.from(b.digest).toString("hex"),
      hash: b.hash.toString(),
    };
    if (rk) {
      parentKey = rk.next(
        parentKey,
        Array.prototype.slice.call(tokens, start, end),
        vllmExtraKeys(start, end, options, rules),
      );
      line.requestKey = parentKey.toString();
    }
    return line;
  });
}

/** Parses token ids given as a JSON array or as numbers separated by commas and/or whitespace. */
export function parseTokenIds(input: string): number[] {
  const text = input.trim();
  if (text === "") return [];
  const raw: unknown[] = text.startsWith("[") ? JSON.parse(text) : text.split(/[\s,]+/).filter(Boolean);
  if (!Array.isArray(raw)) throw new Error("token ids must be a JSON array or a list of numbers");
  return raw.map((v, i) => {
    const n = typeof v === "number" ? v : Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
      throw new Error(`token id #${i} (${JSON.stringify(v)}) is not a uint32`);
    return n;
  });
}
