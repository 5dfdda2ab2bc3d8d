import { Indexer, InMemoryBlockIndex } from "@inferd/block-index";
import { BlockStoredSchema, type KvEventBatch, KvEventBatchSchema, make } from "@inferd/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Coalescer } from "../../src/ingest/coalescer.ts";
import { testObservers } from "../helpers.ts";
import { ManualTimers } from "../support/manual-timers.ts";

const MODEL = "m";
const BS = 4;
type Ev = KvEventBatch["events"][number]["event"];

/**
 * An engine's life as batches: blocks stored at the root or under a block it holds, blocks
 * evicted, now and then its cache cleared; a few replayed batches among the live ones.
 */
const history = fc
  .array(
    fc.record({
      ops: fc.array(
        fc.tuple(fc.constantFrom("root", "child", "child", "remove", "clear"), fc.nat(), fc.nat(3)),
        {
          minLength: 1,
          maxLength: 3,
        },
      ),
      replayed: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    }),
    { minLength: 1, maxLength: 40 },
  )
  .map((steps) => {
    const held: bigint[] = [];
    let next = 1n;
    return steps.map((step, seq) => {
      const events: Ev[] = [];
      for (const [op, pick, n] of step.ops) {
        if (op === "clear" && pick % 4 !== 0) continue;
        if (op === "clear") {
          held.length = 0;
          events.push({ case: "allBlocksCleared", value: {} as never });
        } else if (op === "remove" && held.length > 0) {
          const gone = held.splice(pick % held.length, 1 + (n % 2));
          events.push({ case: "blockRemoved", value: { blockHashes: gone } as never });
        } else {
          const parent = op === "child" && held.length > 0 ? held[pick % held.length] : undefined;
          const hashes = Array.from({ length: 1 + n }, () => next++);
          held.push(...hashes);
          events.push({
            case: "blockStored",
            value: make(BlockStoredSchema, {
              blockHashes: hashes,
              parentBlockHash: parent,
              tokenIds: hashes.flatMap((h) => [Number(h), 1, 2, 3]),
              blockSize: BS,
            }),
          });
        }
      }
      return make(KvEventBatchSchema, {
        model: MODEL,
        pod: "p",
        seq: BigInt(seq),
        tsSeconds: 1000 + seq,
        events: events.map((event) => ({ event })) as never,
        receivedUnixMs: BigInt(seq),
        replayed: step.replayed,
      });
    });
  });

/** The messages one ingest would publish: the linger passes after the batches flagged in `ticks`. */
function coalesce(batches: KvEventBatch[], ticks: boolean[], maxBatches: number): KvEventBatch[] {
  const out: KvEventBatch[] = [];
  const timers = new ManualTimers();
  const c = new Coalescer((b) => out.push(b), { lingerMs: 50, maxBatches }, timers);
  batches.forEach((b, i) => {
    c.add(b, `id-${i}`);
    if (ticks[i % ticks.length]) timers.fireAll();
  });
  c.flushAll();
  return out;
}

async function indexOf(messages: KvEventBatch[]) {
  const index = new InMemoryBlockIndex();
  const indexer = new Indexer(index, testObservers(), { blockSize: BS });
  let streamSeq = 0n;
  for (const m of messages) await indexer.handle(m, ++streamSeq);
  return index.snapshot(MODEL, "p");
}

/** Two ingests' messages in one stream: each ingest's in its order, interleaved as `picks` says. */
function interleave(a: KvEventBatch[], b: KvEventBatch[], picks: boolean[]): KvEventBatch[] {
  const out: KvEventBatch[] = [];
  let i = 0;
  let j = 0;
  for (let k = 0; i < a.length || j < b.length; k++) {
    if (j >= b.length || (i < a.length && picks[k % picks.length])) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

describe("kv-index - merged stream messages", () => {
  it("the index built through merged messages equals the one built batch by batch", async () => {
    await fc.assert(
      fc.asyncProperty(
        history,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 2, max: 6 }),
        async (batches, ticks, maxBatches) => {
          const merged = coalesce(batches, ticks, maxBatches);
          expect(merged.reduce((n, m) => n + (m.batchEventCounts.length || 1), 0)).toBe(batches.length);
          expect(await indexOf(merged)).toEqual(await indexOf(batches));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the same batches merged differently by two ingests are applied once", async () => {
    await fc.assert(
      fc.asyncProperty(
        history,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        async (batches, ticksA, ticksB, picks) => {
          const a = coalesce(batches, ticksA, 4);
          const b = coalesce(batches, ticksB, 5);
          expect(await indexOf(interleave(a, b, picks))).toEqual(await indexOf(batches));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a merged message without batch boundaries over applied batches is applied whole and counted", async () => {
    const obs = testObservers();
    const index = new InMemoryBlockIndex();
    const indexer = new Indexer(index, obs, { blockSize: BS });
    const stored = (h: bigint): Ev => ({
      case: "blockStored",
      value: make(BlockStoredSchema, { blockHashes: [h], tokenIds: [Number(h), 1, 2, 3], blockSize: BS }),
    });
    const msg = (seq: number, first: number | undefined, hs: bigint[], counts: number[] = []) =>
      make(KvEventBatchSchema, {
        model: MODEL,
        pod: "p",
        seq: BigInt(seq),
        firstSeq: first === undefined ? undefined : BigInt(first),
        tsSeconds: 1000 + seq,
        events: hs.map((h) => ({ event: stored(h) })) as never,
        batchEventCounts: counts,
      });
    expect(await indexer.handle(msg(1, 0, [1n, 2n], [1, 1]), 1n)).toBe("applied");
    // Well formed: only seq 2 is new.
    expect(await indexer.handle(msg(2, 1, [2n, 3n], [1, 1]), 2n)).toBe("applied");
    expect((await index.snapshot(MODEL, "p")).copies.gpu.size).toBe(3);
    expect([...(await index.snapshot(MODEL, "p")).copies.gpu.values()]).toEqual([1, 1, 1]);
    // Not splittable (no counts): applied whole, the anomaly counted.
    expect(await indexer.handle(msg(4, 2, [3n, 4n, 5n]), 3n)).toBe("applied");
    expect([...(await index.snapshot(MODEL, "p")).copies.gpu.values()]).toEqual([1, 1, 2, 1, 1]);
    const anomalies = await obs.registry.getSingleMetric("inferd_kv_indexer_anomalies_total")!.get();
    expect(anomalies.values.find((v) => v.labels.kind === "unsplittable_overlap")?.value).toBe(1);
  });
});
