import { Indexer, InMemoryBlockIndex } from "@inferd/block-index";
import { jetStreamClient, publishMessage } from "@inferd/bus";
import {
  BlockStoredSchema,
  type KvEventBatch,
  KvEventBatchSchema,
  make,
  subjects as subjectsOf,
} from "@inferd/protocol";
import { waitFor } from "@inferd/testkit";
import type { Registry } from "prom-client";
import { expect, it } from "vitest";
import { merge } from "../../src/ingest/coalescer.ts";
import { batchMsgId } from "../../src/ingest/ingest.ts";
import type { RunningKvIndex } from "../../src/service.ts";
import { metricValue, testObservers } from "../helpers.ts";
import { FakeEngine } from "../support/fake-engine.ts";
import {
  expectIndexEquals,
  MODEL,
  registerEndpoint,
  startTestKvIndex,
  useServers,
} from "../support/stack.ts";

const t = useServers();

const prompt = (seed: number, blocks: number) =>
  Array.from({ length: blocks * 16 }, (_, i) => ((seed * 7_919 + i * 13) % 50_000) + 1);

/** Engine batches and stream messages this kv-index's ingest published (its merge ratio). */
async function published(registry: Registry): Promise<{ batches: number; messages: number }> {
  const values = (await registry.getSingleMetric("inferd_kv_ingest_batches_per_message")!.get()).values;
  const of = (suffix: string) =>
    values.find(
      (v) => (v as { metricName?: string }).metricName === `inferd_kv_ingest_batches_per_message${suffix}`,
    )!.value;
  return { batches: of("_sum"), messages: of("_count") };
}

/** `n` engine steps: a long prompt grows block by block (chained batches), now and then an eviction. */
async function steps(engine: FakeEngine, seed: number, n: number): Promise<void> {
  const long = prompt(seed, n + 1);
  for (let i = 1; i <= n; i++) {
    const hashes = await engine.store(long.slice(0, 16 * (i + 1)));
    if (i % 4 === 0) await engine.evict([hashes[i]!]);
  }
}

it("kv-index - merged messages: a kv-index restart mid-stream and a second ingest merging differently lose and duplicate nothing", async () => {
  const pod = "merge-1";
  const common = { natsUrl: t.nats.url, redisUrl: `${t.redis.url}/6`, zmqMode: "connect" as const };
  const start = (overrides: Parameters<typeof startTestKvIndex>[0]) =>
    startTestKvIndex({ ...common, indexBackend: "redis", indexerDurable: "merge-idx", ...overrides });
  let kvi: RunningKvIndex = await start({ publishLingerMs: 200 });
  t.cleanups.push(() => kvi.stop());
  const engine = await FakeEngine.start({ pod, model: MODEL, encoding: "array" });
  t.cleanups.push(() => engine.close());
  await registerEndpoint(t.nc, { pod, kvEvents: engine.pubEndpoint, replay: engine.replayEndpoint });
  await waitFor(
    async () => {
      await engine.send([]);
      return (await kvi.index!.engines(MODEL)).includes(pod);
    },
    { timeoutMs: 30_000, message: "engine indexed" },
  );

  // Chained steps while batches linger; then a graceful stop with batches still pending.
  await steps(engine, 1, 24);
  await kvi.stop();
  // Steps while kv-index is away: only the engine's replay buffer has them.
  await steps(engine, 2, 6);
  kvi = await start({ publishLingerMs: 200 });
  await steps(engine, 3, 12);
  await expectIndexEquals(kvi.index!, pod, engine.cached, MODEL, 30_000);

  // A second ingest on the same engine (as during a rolling update), merging over another linger:
  // the stream holds both ingests' messages; every block is still counted once. Whether their
  // messages partly overlap here depends on timing; the crafted stream below makes sure they do.
  const second = await startTestKvIndex({ ...common, indexer: false, lookup: false, publishLingerMs: 30 });
  t.cleanups.push(() => second.stop());
  await waitFor(
    async () => {
      await engine.send([]);
      return (await published(second.registry)).batches > 0;
    },
    { timeoutMs: 30_000, message: "second ingest hears the engine" },
  );
  await steps(engine, 4, 24);
  await engine.clearAll();
  await steps(engine, 5, 12);
  await expectIndexEquals(kvi.index!, pod, engine.cached, MODEL, 30_000);

  // Batches were merged (fewer messages than batches), and both ingests published.
  const first = await published(kvi.registry);
  expect(first.messages).toBeLessThan(first.batches);
  expect((await published(second.registry)).batches).toBeGreaterThan(0);
}, 120_000);

it("kv-index - the Redis indexer applies overlapping merged messages of two ingests once (crafted stream)", async () => {
  const prefix = "mergetest";
  const pod = "crafted";
  const kvi = await startTestKvIndex({
    natsUrl: t.nats.url,
    redisUrl: `${t.redis.url}/7`,
    indexBackend: "redis",
    ingest: false,
    lookup: false,
    subjectPrefix: prefix,
    indexerDurable: "merge-crafted",
    purgeDepartedPods: false,
  });
  t.cleanups.push(() => kvi.stop());
  // 30 engine batches: a chain growing one block per batch (restarting at the root at 0 and 15),
  // every 4th batch evicting an older block.
  const hashOf = (i: number) => BigInt(1000 + i);
  const batches: KvEventBatch[] = Array.from({ length: 30 }, (_, i) => {
    const events: KvEventBatch["events"][number]["event"][] = [
      {
        case: "blockStored",
        value: make(BlockStoredSchema, {
          blockHashes: [hashOf(i)],
          parentBlockHash: i % 15 === 0 ? undefined : hashOf(i - 1),
          tokenIds: Array.from({ length: 16 }, (_, k) => i * 16 + k + 1),
          blockSize: 16,
        }),
      },
    ];
    if (i % 4 === 3) events.push({ case: "blockRemoved", value: { blockHashes: [hashOf(i - 2)] } as never });
    return make(KvEventBatchSchema, {
      model: MODEL,
      pod,
      seq: BigInt(i),
      tsSeconds: 5000 + i,
      events: events.map((event) => ({ event })) as never,
      receivedUnixMs: BigInt(Date.now()),
    });
  });
  const range = (a: number, b: number) => (a === b ? batches[a]! : merge(batches.slice(a, b + 1)));
  // Two ingests' groupings, interleaved so that most messages start inside what was applied
  // (0..0, 1..1, 2..2 and 15..19 are wholly applied already: duplicates).
  const stream = [
    range(0, 4),
    range(0, 0),
    range(1, 1),
    range(2, 2),
    range(3, 7),
    range(5, 9),
    range(8, 12),
    range(10, 14),
    range(13, 22),
    range(15, 19),
    range(20, 29),
    range(23, 29),
  ];
  const js = jetStreamClient(t.nc);
  const s = subjectsOf(prefix);
  let duplicates = 0;
  for (const m of stream) {
    const ack = await publishMessage(js, s.kvEvents(MODEL, pod), KvEventBatchSchema, m, {
      msgId: batchMsgId(MODEL, pod, 0, m.seq, m.tsSeconds),
    });
    if (ack.duplicate) duplicates++;
  }
  // Same last batch, same Nats-Msg-Id: the stream dropped the second copy itself.
  expect(duplicates).toBe(1);

  const reference = new InMemoryBlockIndex();
  const referenceIndexer = new Indexer(reference, testObservers(), { blockSize: 16 });
  let n = 0n;
  for (const b of batches) await referenceIndexer.handle(b, ++n);
  const want = await reference.snapshot(MODEL, pod);
  expect(want.copies.gpu.size).toBeGreaterThan(0);
  const show = (snap: typeof want) =>
    JSON.stringify([...snap.copies.gpu].map(([k, v]) => [String(k), v]).sort(), null, 0);
  await waitFor(async () => show(await kvi.index!.snapshot(MODEL, pod)) === show(want), {
    timeoutMs: 30_000,
    message: "Redis index equals the batch-by-batch one",
  }).catch(async (err: Error) => {
    expect(show(await kvi.index!.snapshot(MODEL, pod)), err.message).toBe(show(want));
  });
  expect(await metricValue(kvi.registry, "inferd_kv_indexer_batches_total", { result: "duplicate" })).toBe(4);
});
