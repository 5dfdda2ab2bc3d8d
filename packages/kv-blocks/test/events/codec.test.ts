import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeMsgpack, Float64, type MsgpackValue } from "../../src/events/msgpack-writer.ts";
import {
  type DecodedBatch,
  type DecodedEvent,
  decodeKvEventBatch,
  type EncodableEvent,
  encodeKvEventBatch,
  MalformedKvEventError,
} from "../../src/index.ts";
import { H, TOKENS, V0_9, V0_11, V0_22, V0_26 } from "./fixtures.ts";

const U64_MAX = 18446744073709551615n;

const storedDefaults = {
  parentBlockHash: null,
  loraId: null,
  medium: null,
  loraName: null,
  extraKeys: null,
  groupIdx: null,
  kvCacheSpecKind: null,
  kvCacheSpecSlidingWindow: null,
  locality: null,
  ownership: null,
  sessionId: null,
  lookaheadTokenIds: null,
} as const;

describe("kv-blocks events - historical vLLM layouts", () => {
  it("decodes v0.9 arrays (6-element BlockStored, no dp rank)", () => {
    const b = decodeKvEventBatch(V0_9);
    expect(b.ts).toBe(1700000000.5);
    expect(b.dataParallelRank).toBeNull();
    expect(b.eventEncoding).toBe("array");
    expect(b.events).toEqual([
      {
        type: "BlockStored",
        ...storedDefaults,
        blockHashes: [H, 7n],
        tokenIds: [...TOKENS, ...TOKENS],
        blockSize: 16,
      },
      {
        type: "BlockRemoved",
        blockHashes: [H],
        medium: null,
        groupIdx: null,
        locality: null,
        ownership: null,
      },
      { type: "AllBlocksCleared" },
    ]);
  });

  it("decodes v0.11 arrays (7-element BlockStored with medium)", () => {
    const b = decodeKvEventBatch(V0_11);
    expect(b.dataParallelRank).toBe(0);
    expect(b.events[0]).toEqual({
      type: "BlockStored",
      ...storedDefaults,
      blockHashes: [H],
      parentBlockHash: 12345n,
      tokenIds: TOKENS,
      blockSize: 16,
      medium: "GPU",
    });
    expect(b.events[1]).toEqual({
      type: "BlockRemoved",
      blockHashes: [H],
      medium: "GPU",
      groupIdx: null,
      locality: null,
      ownership: null,
    });
  });

  it("decodes v0.22 arrays (12-element BlockStored, every field)", () => {
    const b = decodeKvEventBatch(V0_22);
    expect(b.dataParallelRank).toBe(2);
    expect(b.events[0]).toEqual({
      type: "BlockStored",
      blockHashes: [H, U64_MAX],
      parentBlockHash: null,
      tokenIds: [...TOKENS, ...TOKENS],
      blockSize: 16,
      loraId: 3,
      medium: "GPU",
      loraName: "my-lora",
      extraKeys: [["my-lora"], ["my-lora"]],
      groupIdx: 0,
      kvCacheSpecKind: "full_attention",
      kvCacheSpecSlidingWindow: null,
      locality: null,
      ownership: null,
      sessionId: null,
      lookaheadTokenIds: null,
    });
    expect(b.events[1]).toEqual({
      type: "BlockRemoved",
      blockHashes: [H],
      medium: "CPU",
      groupIdx: 1,
      locality: null,
      ownership: null,
    });
  });

  it("decodes v0.26 map-encoded events (kthena capture)", () => {
    const b = decodeKvEventBatch(V0_26);
    expect(b.ts).toBe(1789095808.8378847);
    expect(b.eventEncoding).toBe("map");
    expect(b.events).toEqual([
      {
        type: "BlockStored",
        ...storedDefaults,
        blockHashes: [H],
        tokenIds: TOKENS,
        blockSize: 16,
        medium: "GPU",
        extraKeys: [null],
        groupIdx: 0,
        kvCacheSpecKind: "full_attention",
      },
      {
        type: "BlockRemoved",
        blockHashes: [H],
        medium: "GPU",
        groupIdx: null,
        locality: null,
        ownership: null,
      },
      { type: "AllBlocksCleared" },
    ]);
  });

  it("encodes the older array layouts byte-for-byte (v0.9 and v0.11 fixtures)", () => {
    expect(
      Buffer.from(encodeKvEventBatch(decodeKvEventBatch(V0_9), { arrayLayout: "v0.9" })).toString("hex"),
    ).toBe(Buffer.from(V0_9).toString("hex"));
    expect(
      Buffer.from(encodeKvEventBatch(decodeKvEventBatch(V0_11), { arrayLayout: "v0.11" })).toString("hex"),
    ).toBe(Buffer.from(V0_11).toString("hex"));
    const v15 = decodeKvEventBatch(encodeKvEventBatch(decodeKvEventBatch(V0_22), { arrayLayout: "v0.15" }));
    expect(v15.events[0]).toMatchObject({
      loraName: "my-lora",
      extraKeys: null,
      groupIdx: null,
      kvCacheSpecKind: null,
    });
    expect(() => encodeKvEventBatch(v15, { arrayLayout: "v9" as "v0.9" })).toThrow(/unknown array layout/);
  });

  it("encodes byte-for-byte what msgspec writes (array v0.22 layout and map 0.24 layout)", () => {
    const v22 = decodeKvEventBatch(V0_22);
    expect(Buffer.from(encodeKvEventBatch(v22, { encoding: "array" })).toString("hex")).toBe(
      Buffer.from(V0_22).toString("hex"),
    );
    const v26 = decodeKvEventBatch(V0_26);
    expect(Buffer.from(encodeKvEventBatch(v26, { vllmVersion: "0.24.0" })).toString("hex")).toBe(
      Buffer.from(V0_26).toString("hex"),
    );
  });
});

describe("kv-blocks events - hash forms", () => {
  const batchWith = (hash: MsgpackValue) =>
    encodeMsgpack([new Float64(1), [["BlockRemoved", [hash], "GPU"]], 0]);
  const firstHash = (payload: Uint8Array) =>
    (decodeKvEventBatch(payload).events[0] as { blockHashes: bigint[] }).blockHashes[0];

  it("accepts unsigned ints of every width", () => {
    for (const h of [0n, 5n, 200n, 60000n, 4000000000n, H, U64_MAX]) expect(firstHash(batchWith(h))).toBe(h);
  });

  it("maps signed int64 (0xd3) and negative small ints to uint64", () => {
    expect(firstHash(batchWith(-1n))).toBe(U64_MAX);
    expect(firstHash(batchWith(-2n))).toBe(U64_MAX - 1n);
    expect(firstHash(batchWith(BigInt.asIntN(64, H)))).toBe(H);
  });

  it("reads bin hashes as their last 8 bytes big-endian", () => {
    const digest = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(firstHash(batchWith(digest))).toBe(0x18191a1b1c1d1e1fn);
    expect(firstHash(batchWith(Uint8Array.of(1, 2)))).toBe(0x0102n);
  });

  it("encodes small hashes in their shortest int form and large ones as 0xcf", () => {
    const bytes = encodeKvEventBatch({ ts: 1, events: [{ type: "BlockRemoved", blockHashes: [5n, H] }] });
    const hex = Buffer.from(bytes).toString("hex");
    expect(hex).toContain(`9205cf${H.toString(16)}`);
  });
});

describe("kv-blocks events - tolerance", () => {
  it("ignores extra trailing elements and unknown map fields", () => {
    const arr = encodeMsgpack([
      new Float64(2),
      [["BlockRemoved", [1n], "GPU", 4, "future", [1, 2]]],
      1,
      "extra",
    ]);
    expect(decodeKvEventBatch(arr).events[0]).toEqual({
      type: "BlockRemoved",
      blockHashes: [1n],
      medium: "GPU",
      groupIdx: 4,
      locality: null,
      ownership: null,
    });
    const map = encodeMsgpack({
      ts: new Float64(2),
      events: [{ type: "BlockRemoved", future_field: { nested: true }, block_hashes: [1n] }],
      data_parallel_rank: 3,
      other: "x",
    });
    const b = decodeKvEventBatch(map);
    expect(b.dataParallelRank).toBe(3);
    expect(b.events[0]).toEqual({
      type: "BlockRemoved",
      blockHashes: [1n],
      medium: null,
      groupIdx: null,
      locality: null,
      ownership: null,
    });
  });

  it("keeps unknown event types as Unknown instead of failing the batch", () => {
    const p = encodeMsgpack([
      new Float64(2),
      [["BlockMoved", 1, 2], { type: "Something" }, ["AllBlocksCleared"]],
      0,
    ]);
    expect(decodeKvEventBatch(p).events).toEqual([
      { type: "Unknown", tag: "BlockMoved" },
      { type: "Unknown", tag: "Something" },
      { type: "AllBlocksCleared" },
    ]);
    expect(decodeKvEventBatch(p).eventEncoding).toBe("mixed");
  });

  it("treats truncated BlockStored arrays as having null fields", () => {
    const p = encodeMsgpack([new Float64(2), [["BlockStored", [9n]]], 0]);
    expect(decodeKvEventBatch(p).events[0]).toEqual({
      type: "BlockStored",
      ...storedDefaults,
      blockHashes: [9n],
      tokenIds: [],
      blockSize: null,
    });
  });

  it("accepts an empty batch and an integer ts", () => {
    const b = decodeKvEventBatch(encodeMsgpack([1700000000, [], null]));
    expect(b).toEqual({ ts: 1700000000, events: [], dataParallelRank: null, eventEncoding: null });
  });
});

describe("kv-blocks events - garbage", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty payload", new Uint8Array(0), /not one msgpack value/],
    ["truncated msgpack", V0_22.subarray(0, V0_22.length - 3), /not one msgpack value/],
    ["trailing bytes", Uint8Array.of(...V0_11, 0x01), /not one msgpack value/],
    ["a string", encodeMsgpack("hello"), /batch: expected an array or map/],
    ["a short array", encodeMsgpack([1]), /batch: expected \[ts, events/],
    ["ts not a number", encodeMsgpack(["x", []]), /batch\.ts: expected a number/],
    ["events not an array", encodeMsgpack([1, 5]), /batch\.events: expected an array/],
    ["event not array/map", encodeMsgpack([1, [7]]), /events\[0\]: expected an event/],
    ["event without tag", encodeMsgpack([1, [[]]]), /events\[0\]: empty event array/],
    ["numeric tag", encodeMsgpack([1, [[3, [1]]]]), /events\[0\]: expected a string type tag/],
    [
      "hashes not a list",
      encodeMsgpack([1, [["BlockRemoved", 5]]]),
      /events\[0\] \(BlockRemoved\)\.block_hashes: expected an array/,
    ],
    ["missing hashes", encodeMsgpack([1, [{ type: "BlockStored" }]]), /block_hashes: expected an array/],
    [
      "string hash",
      encodeMsgpack([1, [["BlockRemoved", ["abc"]]]]),
      /block_hashes\[0\]: expected a block hash/,
    ],
    [
      "float hash",
      encodeMsgpack([1, [["BlockRemoved", [new Float64(1.5)]]]]),
      /block_hashes\[0\]: expected an integer/,
    ],
    ["empty bin hash", encodeMsgpack([1, [["BlockRemoved", [new Uint8Array(0)]]]]), /empty bytes/],
    [
      "negative token",
      encodeMsgpack([1, [["BlockStored", [1], null, [1, -3], 16]]]),
      /token_ids\[1\]: expected a token id/,
    ],
    [
      "string block size",
      encodeMsgpack([1, [["BlockStored", [1], null, [], "16"]]]),
      /block_size: expected an integer/,
    ],
    ["numeric medium", encodeMsgpack([1, [["BlockRemoved", [1], 5]]]), /medium: expected a string/],
    [
      "negative data-parallel rank",
      encodeMsgpack([1, [], -5]),
      /data_parallel_rank: expected 0\.\.4294967295/,
    ],
    [
      "block size beyond uint32",
      encodeMsgpack([1, [["BlockStored", [1], null, [], 2 ** 33]]]),
      /block_size: expected 0\.\.4294967295/,
    ],
    ["NaN timestamp", encodeMsgpack([Number.NaN, []]), /batch\.ts: expected a finite number/],
    ["infinite timestamp", encodeMsgpack([Number.POSITIVE_INFINITY, []]), /batch\.ts: expected a finite/],
    [
      "map in extra keys",
      encodeMsgpack([1, [["BlockStored", [1], null, [], 16, null, null, null, [[{ a: 1 }]]]]]),
      /extra_keys\[0\]\[0\]/,
    ],
    [
      "extra keys not a list",
      encodeMsgpack([1, [["BlockStored", [1], null, [], 16, null, null, null, 5]]]),
      /extra_keys: expected an array/,
    ],
  ];
  for (const [name, payload, message] of cases) {
    it(`rejects ${name} with a clear MalformedKvEventError`, () => {
      expect(() => decodeKvEventBatch(payload)).toThrow(MalformedKvEventError);
      expect(() => decodeKvEventBatch(payload)).toThrow(message);
    });
  }

  it("never throws anything but MalformedKvEventError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeKvEventBatch(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedKvEventError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws anything but MalformedKvEventError on mutated valid payloads", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(V0_9, V0_11, V0_22, V0_26),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (p, at, b) => {
          const copy = Uint8Array.from(p);
          copy[at % copy.length] = b;
          try {
            decodeKvEventBatch(copy);
          } catch (err) {
            expect(err).toBeInstanceOf(MalformedKvEventError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

// ---- property: encode -> decode round trip in both encodings -------------------------------

const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
const smallInt = fc.option(fc.integer({ min: 0, max: 1 << 20 }), { nil: null });
const str = fc.option(fc.string({ maxLength: 40 }), { nil: null });
const extraValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer({ min: -1000, max: 1 << 30 }),
  fc.uint8Array({ minLength: 1, maxLength: 32 }),
  fc.tuple(fc.string({ maxLength: 10 }), fc.nat(64)),
);
const storedArb = fc
  .record({
    blockHashes: fc.array(u64, { maxLength: 6 }),
    parentBlockHash: fc.option(u64, { nil: null }),
    blockSize: fc.integer({ min: 1, max: 64 }),
    loraId: smallInt,
    medium: str,
    loraName: str,
    withExtra: fc.boolean(),
    extraItem: fc.option(fc.array(extraValue, { minLength: 1, maxLength: 3 }), { nil: null }),
    groupIdx: smallInt,
    kvCacheSpecKind: str,
    kvCacheSpecSlidingWindow: smallInt,
    locality: str,
    ownership: str,
    sessionId: str,
    withLookahead: fc.boolean(),
  })
  .chain((r) =>
    fc
      .array(fc.integer({ min: 0, max: 0xffffffff }), {
        minLength: r.blockHashes.length * r.blockSize,
        maxLength: r.blockHashes.length * r.blockSize,
      })
      .map((tokenIds): DecodedEvent => {
        const { withExtra, extraItem, withLookahead, ...rest } = r;
        return {
          type: "BlockStored",
          ...rest,
          tokenIds,
          extraKeys: withExtra ? r.blockHashes.map(() => extraItem) : null,
          lookaheadTokenIds: withLookahead ? r.blockHashes.map((_, i) => [i, i + 1]) : null,
        };
      }),
  );
const removedArb = fc.record({
  type: fc.constant("BlockRemoved" as const),
  blockHashes: fc.array(u64, { maxLength: 6 }),
  medium: str,
  groupIdx: smallInt,
  locality: str,
  ownership: str,
});
const eventArb: fc.Arbitrary<DecodedEvent> = fc.oneof(
  storedArb,
  removedArb,
  fc.constant({ type: "AllBlocksCleared" as const }),
);
const batchArb = fc.record({
  ts: fc.double({ noNaN: true, noDefaultInfinity: true }),
  events: fc.array(eventArb, { maxLength: 5 }),
  dataParallelRank: smallInt,
});

describe("kv-blocks events - round trip", () => {
  for (const encoding of ["array", "map"] as const) {
    for (const batchEncoding of ["array", "map"] as const) {
      it(`decode(encode(batch)) == batch with ${encoding} events in a ${batchEncoding} batch`, () => {
        fc.assert(
          fc.property(batchArb, (batch) => {
            const back = decodeKvEventBatch(encodeKvEventBatch(batch, { encoding, batchEncoding }));
            // Array-form events (vLLM <= 0.23) have no fields after kv_cache_spec_sliding_window.
            const arrayEra = (e: DecodedEvent): DecodedEvent =>
              e.type === "BlockStored"
                ? { ...e, locality: null, ownership: null, sessionId: null, lookaheadTokenIds: null }
                : e.type === "BlockRemoved"
                  ? { ...e, locality: null, ownership: null }
                  : e;
            const expected: DecodedBatch = {
              ...batch,
              events: encoding === "array" ? batch.events.map(arrayEra) : batch.events,
              ts: Object.is(batch.ts, -0) ? -0 : batch.ts,
              eventEncoding: batch.events.length === 0 ? null : encoding,
            };
            expect(back).toEqual(expected);
          }),
          { numRuns: 300 },
        );
      });
    }
  }

  it("round-trips bin hashes to their uint64 value", () => {
    const digest = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);
    const ev: EncodableEvent = { type: "BlockRemoved", blockHashes: [digest], medium: "GPU" };
    const back = decodeKvEventBatch(encodeKvEventBatch({ ts: 1, events: [ev] }, { encoding: "map" }));
    expect(back.events[0]).toEqual({
      type: "BlockRemoved",
      blockHashes: [0xf8f9fafbfcfdfeffn],
      medium: "GPU",
      groupIdx: null,
      locality: null,
      ownership: null,
    });
  });

  it("refuses to encode Unknown events", () => {
    expect(() => encodeKvEventBatch({ ts: 1, events: [{ type: "Unknown", tag: "X" }] })).toThrow(
      /unknown type "X"/,
    );
  });
});
