import { BlockStoredSchema, type KvEventBatch, KvEventBatchSchema, make } from "@inferd/protocol";
import { describe, expect, it } from "vitest";
import { Coalescer, type FlushReason } from "../../src/ingest/coalescer.ts";
import { batchMsgId } from "../../src/ingest/ingest.ts";
import { ManualTimers } from "../support/manual-timers.ts";

type Ev = KvEventBatch["events"][number]["event"];
const child = (hash: bigint, parent = 1n): Ev => ({
  case: "blockStored",
  value: make(BlockStoredSchema, {
    blockHashes: [hash],
    parentBlockHash: parent,
    tokenIds: [1, 2, 3, 4],
    blockSize: 4,
  }),
});
const root = (hash: bigint): Ev => ({
  case: "blockStored",
  value: make(BlockStoredSchema, { blockHashes: [hash], tokenIds: [1, 2, 3, 4], blockSize: 4 }),
});
const removed = (...hashes: bigint[]): Ev => ({
  case: "blockRemoved",
  value: { blockHashes: hashes } as never,
});
const cleared: Ev = { case: "allBlocksCleared", value: {} as never };
const reset: Ev = { case: "podReset", value: { reason: "engine_restarted" } as never };

function batch(
  seq: number,
  events: Ev[],
  opts: { pod?: string; rank?: number; replayed?: boolean; ts?: number } = {},
) {
  return make(KvEventBatchSchema, {
    model: "m",
    pod: opts.pod ?? "p",
    dataParallelRank: opts.rank ?? 0,
    seq: BigInt(seq),
    tsSeconds: opts.ts ?? 100 + seq,
    events: events.map((event) => ({ event })) as never,
    receivedUnixMs: BigInt(10_000 + seq),
    replayed: opts.replayed ?? false,
  });
}
const idOf = (b: KvEventBatch) => batchMsgId(b.model, b.pod, b.dataParallelRank, b.seq, b.tsSeconds);

function setup(lingerMs = 50, bounds: { maxBatches?: number; maxBlocks?: number } = {}) {
  const out: { batch: KvEventBatch; msgId: string; batches: number; reason: FlushReason }[] = [];
  const timers = new ManualTimers();
  const c = new Coalescer(
    (batch, msgId, batches, reason) => out.push({ batch, msgId, batches, reason }),
    { lingerMs, ...bounds },
    timers,
  );
  const add = (b: KvEventBatch, msgId = idOf(b)) => c.add(b, msgId);
  const ranges = () => out.map((o) => `${o.batch.firstSeq ?? o.batch.seq}..${o.batch.seq}:${o.reason}`);
  return { c, out, timers, add, ranges };
}

describe("kv-index - coalescer", () => {
  it("lingerMs 0: every batch goes out at once, unchanged", () => {
    const t = setup(0);
    const b = batch(0, [child(5n)]);
    t.add(b);
    t.add(batch(1, [child(6n)]));
    expect(t.out.map((o) => [o.batch, o.reason])).toEqual([
      [b, "off"],
      [expect.objectContaining({ seq: 1n }), "off"],
    ]);
    expect(t.timers.armed).toEqual([]);
  });

  it("merges consecutive batches of one engine until the linger passes", () => {
    const t = setup(50);
    t.add(batch(3, [child(5n)]));
    t.add(batch(4, [removed(7n, 8n), child(6n, 5n)]));
    t.add(batch(5, [child(9n, 6n)]));
    expect(t.out).toEqual([]);
    expect(t.timers.armed).toEqual([50]);
    t.timers.fireAll();
    expect(t.out).toHaveLength(1);
    const { batch: m, msgId, batches } = t.out[0]!;
    expect(batches).toBe(3);
    expect(m.seq).toBe(5n);
    expect(m.firstSeq).toBe(3n);
    expect(m.tsSeconds).toBe(105);
    expect(m.receivedUnixMs).toBe(10_003n);
    expect(m.batchEventCounts).toEqual([1, 2, 1]);
    expect(m.events.map((e) => e.event.case)).toEqual([
      "blockStored",
      "blockRemoved",
      "blockStored",
      "blockStored",
    ]);
    // Nats-Msg-Id keeps its format, with the last batch's seq and ts.
    expect(msgId).toBe(batchMsgId("m", "p", 0, 5n, 105));
    expect(t.ranges()).toEqual(["3..5:linger"]);
  });

  it("a lone batch at the end of the linger goes out unchanged (no first_seq)", () => {
    const t = setup();
    const b = batch(7, [child(5n)]);
    t.add(b);
    t.timers.fireAll();
    expect(t.out[0]!.batch).toBe(b);
    expect(t.out[0]!.batch.firstSeq).toBeUndefined();
  });

  it("a chain starting at the root (a cold prefill) flushes at once, with what was pending", () => {
    const t = setup();
    t.add(batch(0, [child(5n)]));
    t.add(batch(1, [removed(5n), root(9n)]));
    expect(t.ranges()).toEqual(["0..1:prefill"]);
    expect(t.timers.armed).toEqual([]);
    t.add(batch(2, [child(10n, 9n)]));
    expect(t.timers.armed).toEqual([50]);
  });

  it("several blocks stored at once under a parent (a prefill behind a cached prefix) flush at once too", () => {
    const t = setup();
    t.add(batch(0, [child(5n)]));
    t.add(batch(1, [{ case: "blockStored", value: { ...child(6n).value, blockHashes: [6n, 7n] } as never }]));
    expect(t.ranges()).toEqual(["0..1:prefill"]);
    // One block under a parent is a decode step's: it waits.
    t.add(batch(2, [child(8n, 7n)]));
    expect(t.out).toHaveLength(1);
    expect(t.timers.armed).toEqual([50]);
  });

  it("clears, resets and replayed batches flush what is pending, then go out alone", () => {
    const t = setup();
    t.add(batch(0, [child(5n)]));
    t.add(batch(1, [child(6n)]));
    t.add(batch(2, [cleared]));
    t.add(batch(3, [child(7n)]));
    t.add(batch(4, [child(8n)], { replayed: true }));
    t.add(batch(5, [child(9n)]));
    t.add(batch(0, [reset], { ts: 300 }), "reset.engine_restarted.x");
    expect(t.ranges()).toEqual([
      "0..1:boundary",
      "2..2:alone",
      "3..3:boundary",
      "4..4:alone",
      "5..5:boundary",
      "0..0:alone",
    ]);
    expect(t.out.at(-1)!.msgId).toBe("reset.engine_restarted.x");
    expect(t.timers.armed).toEqual([]);
  });

  it("never merges across a sequence break or an older timestamp (another engine life)", () => {
    const t = setup();
    t.add(batch(0, [child(5n)]));
    t.add(batch(2, [child(6n)]));
    t.add(batch(3, [child(7n)], { ts: 50 }));
    t.add(batch(4, [child(8n)], { ts: 51 }));
    t.timers.fireAll();
    expect(t.ranges()).toEqual(["0..0:boundary", "2..2:boundary", "3..4:linger"]);
  });

  it("engines (pods, DP ranks) are merged apart", () => {
    const t = setup();
    t.add(batch(0, [child(5n)], { pod: "a" }));
    t.add(batch(0, [child(5n)], { pod: "b" }));
    t.add(batch(0, [child(5n)], { pod: "a", rank: 1 }));
    t.add(batch(1, [child(6n)], { pod: "a" }));
    expect(t.timers.armed).toEqual([50, 50, 50]);
    t.timers.fireAll();
    expect(t.out.map((o) => `${o.batch.pod}#${o.batch.dataParallelRank}:${o.batches}`).sort()).toEqual([
      "a#0:2",
      "a#1:1",
      "b#0:1",
    ]);
  });

  it("size bounds: batches and blocks", () => {
    const byCount = setup(50, { maxBatches: 3 });
    for (let s = 0; s < 7; s++) byCount.add(batch(s, [child(BigInt(100 + s))]));
    expect(byCount.ranges()).toEqual(["0..2:size", "3..5:size"]);
    const byBlocks = setup(50, { maxBlocks: 4 });
    byBlocks.add(batch(0, [removed(1n, 2n)]));
    byBlocks.add(batch(1, [removed(3n)]));
    byBlocks.add(batch(2, [removed(4n, 5n)]));
    expect(byBlocks.ranges()).toEqual(["0..2:size"]);
  });

  it("dropPod forgets one pod's pending batches (it left the inventory); flushAll sends everything (shutdown)", () => {
    const t = setup();
    t.add(batch(0, [child(5n)], { pod: "a" }));
    t.add(batch(1, [child(6n)], { pod: "a" }));
    t.add(batch(0, [child(5n)], { pod: "b" }));
    t.add(batch(1, [child(6n)], { pod: "b" }));
    expect(t.c.dropPod("m", "a")).toBe(2);
    expect(t.out).toEqual([]);
    expect(t.timers.armed).toEqual([50]);
    t.c.flushAll();
    expect(t.ranges()).toEqual(["0..1:shutdown"]);
    expect(t.out[0]!.batch.pod).toBe("b");
    expect(t.c.pendingBatches).toBe(0);
    expect(t.timers.armed).toEqual([]);
  });
});
