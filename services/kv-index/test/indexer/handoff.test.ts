import { decode, encode, type KvEventBatch, KvEventBatchSchema, make } from "@inferd/protocol";
import fc from "fast-check";
import { expect, it } from "vitest";
import { BatchHandoff, roundTrips } from "../../src/handoff.ts";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
// Any UTF-16 code units too (lone surrogates): a JS msgpack decoder can produce them from bytes.
const str = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
);
const tier = fc.integer({ min: 0, max: 3 });
const blockStored = fc.record({
  blockHashes: fc.array(u64, { maxLength: 4 }),
  parentBlockHash: fc.option(u64, { nil: undefined }),
  tokenIds: fc.array(u32, { maxLength: 40 }),
  blockSize: u32,
  loraId: fc.option(i64, { nil: undefined }),
  loraName: fc.option(str, { nil: undefined }),
  tier,
  medium: str,
  extraKeys: fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 3 }),
  groupIdx: fc.option(u32, { nil: undefined }),
  kvCacheSpecKind: str,
  locality: str,
  ownership: str,
  sessionId: str,
  lookaheadTokenIds: fc.array(u32, { maxLength: 4 }),
  lookaheadTokens: u32,
});
const blockRemoved = fc.record({
  blockHashes: fc.array(u64, { maxLength: 4 }),
  tier,
  medium: str,
  groupIdx: fc.option(u32, { nil: undefined }),
  locality: str,
  ownership: str,
});
const event = fc.oneof(
  blockStored.map((value) => ({ event: { case: "blockStored" as const, value } })),
  blockRemoved.map((value) => ({ event: { case: "blockRemoved" as const, value } })),
  fc.constant({ event: { case: "allBlocksCleared" as const, value: {} } }),
  str.map((reason) => ({ event: { case: "podReset" as const, value: { reason } } })),
);
/** Every batch the ingest can publish (the vLLM decoder keeps ids and sizes in their protobuf ranges). */
const batch = fc
  .record({
    model: str,
    pod: str,
    dataParallelRank: u32,
    seq: u64,
    tsSeconds: fc.double(),
    events: fc.array(event, { maxLength: 5 }),
    receivedUnixMs: i64,
    replayed: fc.boolean(),
  })
  .map((init) => make(KvEventBatchSchema, init));

it("kv-index - a batch accepted for the handoff is exactly what decoding its stored bytes gives (property)", () => {
  let accepted = 0;
  let refused = 0;
  fc.assert(
    fc.property(batch, (b) => {
      const decoded = decode(KvEventBatchSchema, encode(KvEventBatchSchema, b));
      if (roundTrips(b)) {
        accepted++;
        expect(decoded).toEqual(b);
      } else {
        refused++;
      }
    }),
    { numRuns: 2_000 },
  );
  // Both sides of the guard were exercised.
  expect(accepted).toBeGreaterThan(100);
  expect(refused).toBeGreaterThan(10);
});

it("kv-index - what the handoff refuses would not have round-tripped (a lone surrogate)", () => {
  const lone = make(KvEventBatchSchema, {
    model: "m",
    pod: "p",
    events: [{ event: { case: "blockStored", value: { loraName: "a\ud800b", tokenIds: [1] } } }],
  });
  const pod = make(KvEventBatchSchema, { model: "m", pod: "\udc00" });
  for (const b of [lone, pod]) {
    expect(roundTrips(b)).toBe(false);
    expect(decode(KvEventBatchSchema, encode(KvEventBatchSchema, b))).not.toEqual(b);
    const h = new BatchHandoff();
    const data = encode(KvEventBatchSchema, b);
    h.put(1, "s", data, b);
    expect(h.take(1, "s", data)).toBeUndefined();
  }
});

it("kv-index - the handoff gives a batch once, only for the same sequence, subject and bytes; bounded", () => {
  const b = (seq: number): KvEventBatch =>
    make(KvEventBatchSchema, { model: "m", pod: "p", seq: BigInt(seq) });
  const bytes = (seq: number) => encode(KvEventBatchSchema, b(seq));
  const h = new BatchHandoff(3);
  const b1 = b(1);
  h.put(1, "s.p", bytes(1), b1);
  expect(h.take(1, "s.p", bytes(1))).toBe(b1);
  expect(h.take(1, "s.p", bytes(1))).toBeUndefined(); // taken
  h.put(2, "s.p", bytes(2), b(2));
  expect(h.take(2, "s.q", bytes(2))).toBeUndefined(); // another subject
  h.put(3, "s.p", bytes(3), b(3));
  expect(h.take(3, "s.p", bytes(4))).toBeUndefined(); // other bytes at that sequence
  expect(h.take(9, "s.p", bytes(9))).toBeUndefined(); // never handed over
  for (let s = 10; s < 20; s++) h.put(s, "s.p", bytes(s), b(s));
  expect(h.size).toBe(3); // the oldest went first
  expect(h.take(16, "s.p", bytes(16))).toBeUndefined();
  expect(h.take(19, "s.p", bytes(19))?.seq).toBe(19n);
  expect([h.hits, h.misses]).toEqual([2, 5]);
});
