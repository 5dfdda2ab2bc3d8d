// inferd against vectors made by vLLM's own code (scripts/vllm-golden/), for every vLLM version
// from 0.11 to 0.34: NONE_HASH, block-hash chains (all four algorithms, LoRA, salt, MM, EAGLE
// lookahead), published extra keys, msgspec event payloads both ways, replay frames.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  computeNoneHash,
  decodeKvEventBatch,
  type EncodableEvent,
  EngineBlockHasher,
  type EngineHashAlgo,
  type ExtraKeys,
  type ExtraKeyValue,
  encodeKvEventBatch,
  engineBlockHashes,
  replayBatchFrames,
  replayEndFrames,
  resolveNoneHashSeed,
  verifyRootEvent,
  vllmExtraKeys,
  vllmRules,
} from "../../src/index.ts";

type Json = null | boolean | number | string | Json[] | { bytes: string } | { int: string };

interface Chain {
  algo: EngineHashAlgo;
  seed: string | null;
  blockSize: number;
  tokens: number[];
  lora: { name: string; path: string; id: number } | null;
  cacheSalt: string | null;
  mm: { identifier: string; offset: number; length: number }[];
  lookahead: number;
  noneHash: string;
  blocks: { digest: string; hash: string; eventExtraKeys: Json; lookaheadTokenIds: number[] | null }[];
}

interface Golden {
  version: string;
  algos: string[];
  noneHash: Record<string, Record<string, { hex: string | null; deterministic: boolean }>>;
  chains: Chain[];
  events: {
    eventForm: "array" | "map";
    blockStoredFields: string[];
    blockRemovedFields: string[];
    batchFields: string[];
    batch: { ts: number; dataParallelRank: number | null; events: Record<string, Json>[] };
    payload: string;
  };
  replay: { topic: string; buffer: [number, string][]; startSeq: number; frames: string[][] };
}

const dir = new URL(".", import.meta.url);
const files = readdirSync(dir).filter((f) => /^vllm-[\d.]+\.json$/.test(f));
const goldens: Golden[] = files.map((f) => JSON.parse(readFileSync(new URL(f, dir), "utf8")) as Golden);

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));

function fromJson(v: Json): ExtraKeyValue {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(fromJson);
  if ("bytes" in v) return unhex(v.bytes);
  return BigInt(v.int);
}

/** Decoder output (camelCase, bigint hashes) back to the vectors' JSON shape (snake_case). */
function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function toEncodable(e: Record<string, Json>): EncodableEvent {
  const out: Record<string, unknown> = { type: e.type };
  for (const [k, v] of Object.entries(e)) {
    if (k === "type") continue;
    if (k === "block_hashes")
      out.blockHashes = (v as Json[]).map((h) =>
        BigInt(typeof h === "object" ? (h as { int: string }).int : (h as number)),
      );
    else if (k === "parent_block_hash")
      out.parentBlockHash =
        v === null ? null : BigInt(typeof v === "object" ? (v as { int: string }).int : (v as number));
    else if (k === "extra_keys")
      out.extraKeys =
        v === null ? null : (v as Json[]).map((x) => (x === null ? null : (fromJson(x) as ExtraKeys)));
    else out[camel(k)] = v;
  }
  return out as unknown as EncodableEvent;
}

it("covers the versions where vLLM's rules change", () => {
  const versions = goldens.map((g) => g.version);
  for (const v of [
    "0.11.0",
    "0.23.0",
    "0.24.0",
    "0.26.0",
    "0.29.0",
    "0.30.0",
    "0.31.0",
    "0.33.0",
    "0.34.0",
  ]) {
    expect(versions).toContain(v);
  }
});

describe.each(goldens.map((g) => [g.version, g] as const))("vLLM %s golden vectors", (version, g) => {
  const rules = vllmRules(version);

  it("algorithms, event form and declared fields", () => {
    expect(rules.algos).toEqual(g.algos);
    expect(rules.eventForm).toBe(g.events.eventForm);
    expect(rules.blockStoredFields).toEqual(g.events.blockStoredFields);
    expect(rules.blockRemovedFields).toEqual(g.events.blockRemovedFields);
  });

  it("NONE_HASH with PYTHONHASHSEED set and unset", () => {
    for (const [algo, seeds] of Object.entries(g.noneHash)) {
      for (const [seed, want] of Object.entries(seeds)) {
        const s = seed === "unset" ? null : seed;
        if (want.deterministic) {
          expect(hex(computeNoneHash(algo as EngineHashAlgo, s, rules)), `${algo} ${seed}`).toBe(want.hex);
        } else {
          expect(resolveNoneHashSeed(algo as EngineHashAlgo, s, rules), `${algo} ${seed}`).toBeNull();
        }
      }
    }
  });

  it.each(g.chains.map((c, i) => [i, c] as const))("chain %i", (_, c) => {
    const inputs = {
      loraName: c.lora?.name ?? null,
      loraPath: c.lora?.path ?? null,
      loraId: c.lora?.id ?? null,
      cacheSalt: c.cacheSalt,
      mmItems: c.mm,
    };
    const got = engineBlockHashes(c.tokens, {
      algo: c.algo,
      seed: c.seed,
      vllmVersion: version,
      blockSize: c.blockSize,
      lookaheadTokens: c.lookahead,
      ...inputs,
    });
    expect(got.map((b) => hex(b.digest))).toEqual(c.blocks.map((b) => b.digest));
    expect(got.map((b) => b.hash.toString())).toEqual(c.blocks.map((b) => b.hash));
    c.blocks.forEach((b, i) => {
      const s = i * c.blockSize;
      const e = s + c.blockSize + c.lookahead;
      expect(vllmExtraKeys(s, e, inputs, rules), `block ${i}`).toEqual(fromJson(b.eventExtraKeys));
    });
    // A root event built from what vLLM publishes verifies (tagged versions need the LoRA path).
    if (c.seed !== null && rules.blockStoredFields.includes("extra_keys")) {
      const event = {
        blockHashes: got.map((b) => b.hash),
        parentBlockHash: null,
        tokenIds: c.tokens.slice(0, c.blocks.length * c.blockSize),
        blockSize: c.blockSize,
        loraName: c.lora?.name ?? null,
        extraKeys: c.blocks.map((b) => fromJson(b.eventExtraKeys) as ExtraKeys),
        lookaheadTokenIds: c.lookahead ? c.blocks.map((b) => b.lookaheadTokenIds ?? []) : null,
      };
      const hasher = new EngineBlockHasher({ algo: c.algo, seed: c.seed, vllmVersion: version });
      expect(verifyRootEvent(event, hasher, c.lora?.path ?? null)).toEqual({ result: "match" });
      if (c.lora && rules.loraKey === "tagged") {
        expect(verifyRootEvent(event, hasher).result).toBe("unverifiable");
      }
    }
  });

  it("encodes the sample batch byte for byte as msgspec does", () => {
    const events = g.events.batch.events.map(toEncodable);
    const bytes = encodeKvEventBatch(
      { ts: g.events.batch.ts, events, dataParallelRank: g.events.batch.dataParallelRank },
      { vllmVersion: version },
    );
    expect(hex(bytes)).toBe(g.events.payload);
  });

  it("decodes msgspec's payload", () => {
    const decoded = decodeKvEventBatch(unhex(g.events.payload));
    expect(decoded.eventEncoding).toBe(g.events.eventForm);
    expect(decoded.dataParallelRank).toBe(g.events.batch.dataParallelRank);
    g.events.batch.events.forEach((want, i) => {
      const got = decoded.events[i] as unknown as Record<string, unknown>;
      const enc = toEncodable(want) as unknown as Record<string, unknown>;
      for (const key of Object.keys(enc)) expect(got[key], `${i}.${key}`).toEqual(enc[key]);
    });
  });

  it("replay frames", () => {
    const topic = new TextEncoder().encode(g.replay.topic);
    const want = g.replay.frames.map((frames) => frames.slice(2)); // after [client_id, b""]
    const got = [
      ...g.replay.buffer
        .filter(([seq]) => seq >= g.replay.startSeq)
        .map(([seq, payload]) =>
          replayBatchFrames(rules.replayTopicFrame, topic, BigInt(seq), unhex(payload)),
        ),
      replayEndFrames(rules.replayTopicFrame),
    ];
    expect(got.map((frames) => frames.map(hex))).toEqual(want);
  });
});
