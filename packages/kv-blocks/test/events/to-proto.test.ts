import { decode, encode, KvEventBatchSchema, StorageTier } from "@inferd/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeKvEventBatch,
  type ExtraKeys,
  encodeCanonicalCbor,
  encodeKvEventBatch,
  extraKeysFromProto,
  extraKeysToProto,
  tierOfMedium,
  toProtoBatch,
} from "../../src/index.ts";
import { H, V0_22, V0_26 } from "./fixtures.ts";

describe("kv-blocks to-proto - mapping", () => {
  it("maps a v0.22 batch with LoRA extra keys, tiers and dp rank", () => {
    const proto = toProtoBatch(decodeKvEventBatch(V0_22), {
      model: "Qwen/Qwen3-32B",
      pod: "sim-8000",
      seq: 42n,
      receivedUnixMs: 1234,
      replayed: true,
    });
    expect(proto.model).toBe("Qwen/Qwen3-32B");
    expect(proto.pod).toBe("sim-8000");
    expect(proto.seq).toBe(42n);
    expect(proto.dataParallelRank).toBe(2);
    expect(proto.tsSeconds).toBe(1700000002);
    expect(proto.receivedUnixMs).toBe(1234n);
    expect(proto.replayed).toBe(true);
    expect(proto.events.map((e) => e.event.case)).toEqual([
      "blockStored",
      "blockRemoved",
      "allBlocksCleared",
    ]);
    const stored = proto.events[0]!.event;
    if (stored.case !== "blockStored") throw new Error("expected blockStored");
    expect(stored.value.blockHashes).toEqual([H, 18446744073709551615n]);
    expect(stored.value.parentBlockHash).toBeUndefined();
    expect(stored.value.tokenIds).toHaveLength(32);
    expect(stored.value.blockSize).toBe(16);
    expect(stored.value.loraId).toBe(3n);
    expect(stored.value.loraName).toBe("my-lora");
    expect(stored.value.tier).toBe(StorageTier.GPU);
    expect(stored.value.medium).toBe("");
    expect(stored.value.extraKeys.map((b) => Buffer.from(b).toString("hex"))).toEqual([
      `8167${Buffer.from("my-lora").toString("hex")}`,
      `8167${Buffer.from("my-lora").toString("hex")}`,
    ]);
    expect(stored.value.groupIdx).toBe(0);
    expect(stored.value.kvCacheSpecKind).toBe("full_attention");
    const removed = proto.events[1]!.event;
    if (removed.case !== "blockRemoved") throw new Error("expected blockRemoved");
    expect(removed.value).toMatchObject({ blockHashes: [H], tier: StorageTier.CPU, medium: "", groupIdx: 1 });
    // survives the protobuf wire
    expect(decode(KvEventBatchSchema, encode(KvEventBatchSchema, proto))).toEqual(proto);
  });

  it("maps absent extra keys and all-None extra keys to an empty list, dp rank None to 0", () => {
    const proto = toProtoBatch(decodeKvEventBatch(V0_26), { model: "m", pod: "p", seq: 0n });
    const stored = proto.events[0]!.event;
    if (stored.case !== "blockStored") throw new Error("expected blockStored");
    expect(stored.value.extraKeys).toEqual([]);
    expect(proto.receivedUnixMs).toBeGreaterThan(0n);
  });

  it("drops unknown events and keeps mixed None/tuple extra keys aligned per block", () => {
    const proto = toProtoBatch(
      {
        ts: 1,
        dataParallelRank: null,
        eventEncoding: "array",
        events: [
          { type: "Unknown", tag: "X" },
          {
            type: "BlockStored",
            blockHashes: [1n, 2n],
            parentBlockHash: 9n,
            tokenIds: [],
            blockSize: 0,
            loraId: null,
            medium: "CPU",
            loraName: null,
            extraKeys: [["salt"], null],
            groupIdx: null,
            kvCacheSpecKind: null,
            kvCacheSpecSlidingWindow: null,
            locality: null,
            ownership: null,
            sessionId: null,
            lookaheadTokenIds: null,
          },
        ],
      },
      { model: "m", pod: "p", seq: 1n },
    );
    expect(proto.dataParallelRank).toBe(0);
    expect(proto.events).toHaveLength(1);
    const stored = proto.events[0]!.event;
    if (stored.case !== "blockStored") throw new Error("expected blockStored");
    expect(stored.value.parentBlockHash).toBe(9n);
    expect(stored.value.tier).toBe(StorageTier.CPU);
    expect(stored.value.extraKeys).toEqual([encodeCanonicalCbor(["salt"]), new Uint8Array(0)]);
    expect(stored.value.groupIdx).toBeUndefined();
  });

  it("maps media to tiers", () => {
    expect(tierOfMedium(null)).toEqual({ tier: StorageTier.GPU, medium: "" });
    expect(tierOfMedium("gpu")).toEqual({ tier: StorageTier.GPU, medium: "" });
    expect(tierOfMedium("CPU")).toEqual({ tier: StorageTier.CPU, medium: "" });
    expect(tierOfMedium("LMCache-disk")).toEqual({ tier: StorageTier.DISK, medium: "LMCache-disk" });
    expect(tierOfMedium("STORAGE", "tier-2")).toEqual({ tier: StorageTier.DISK, medium: "STORAGE" });
    // A block owned by an offloading connector is not GPU-resident, whatever the medium says.
    expect(tierOfMedium("GPU", "cpu-tier")).toEqual({ tier: StorageTier.CPU, medium: "" });
    expect(tierOfMedium(null, "cpu-tier")).toEqual({ tier: StorageTier.CPU, medium: "" });
  });

  it("carries vLLM 0.26-0.34 fields: locality, ownership, session_id, lookahead tokens", () => {
    const bytes = encodeKvEventBatch(
      {
        ts: 1,
        events: [
          {
            type: "BlockStored",
            blockHashes: [1n, 2n],
            tokenIds: [1, 2, 3, 4],
            blockSize: 2,
            medium: "GPU",
            ownership: "offload-cpu",
            locality: "LOCAL",
            sessionId: "s-1",
            lookaheadTokenIds: [[3], [5]],
          },
          {
            type: "BlockRemoved",
            blockHashes: [1n],
            medium: "CPU",
            locality: "REMOTE",
            ownership: "offload-cpu",
          },
        ],
      },
      { vllmVersion: "0.34.0" },
    );
    const proto = toProtoBatch(decodeKvEventBatch(bytes), { model: "m", pod: "p", seq: 0n });
    const [stored, removed] = proto.events.map((e) => e.event);
    expect(stored?.case).toBe("blockStored");
    if (stored?.case !== "blockStored" || removed?.case !== "blockRemoved") throw new Error("unreachable");
    expect(stored.value).toMatchObject({
      tier: StorageTier.CPU,
      locality: "LOCAL",
      ownership: "offload-cpu",
      sessionId: "s-1",
      lookaheadTokenIds: [3, 5],
      lookaheadTokens: 1,
    });
    expect(removed.value).toMatchObject({
      tier: StorageTier.CPU,
      locality: "REMOTE",
      ownership: "offload-cpu",
    });
  });
});

describe("kv-blocks to-proto - extra keys", () => {
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    leaf: fc.oneof(
      fc.string({ maxLength: 10 }),
      fc.integer(),
      fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }),
      fc.uint8Array({ maxLength: 8 }),
      fc.constant(null),
      fc.boolean(),
    ),
    node: fc.oneof({ depthSize: "small" }, tie("leaf"), fc.array(tie("node"), { maxLength: 3 })),
  })).node;
  const normalise = (v: unknown): unknown =>
    typeof v === "bigint" && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : Array.isArray(v)
        ? v.map(normalise)
        : v;

  it("round-trips per-block extra keys through CBOR", () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.array(value, { minLength: 1, maxLength: 4 }), { nil: null }), { maxLength: 4 }),
        (blocks) => {
          const keys = blocks as ExtraKeys[];
          const back = extraKeysFromProto(extraKeysToProto(keys));
          if (keys.every((k) => k === null)) expect(back).toBeNull();
          else expect(back).toEqual(normalise(keys));
        },
      ),
    );
  });

  it("rejects bytes that are not an extra-keys tuple", () => {
    expect(() => extraKeysFromProto([Uint8Array.of(0xff)])).toThrow(/extra_keys\[0\] is not CBOR/);
    expect(() => extraKeysFromProto([encodeCanonicalCbor("x")])).toThrow(/not a CBOR array/);
    expect(() => extraKeysFromProto([Uint8Array.of(0x81, 0xa1, 0x61, 0x61, 0x01)])).toThrow(
      /not a CBOR array/,
    );
  });
});
