import { waitFor } from "@inferd/testkit";
import { Redis } from "ioredis";
import { expect, it } from "vitest";
import { metricValue } from "../helpers.ts";
import { FakeEngine } from "../support/fake-engine.ts";
import {
  expectIndexEquals,
  MODEL,
  registerEndpoint,
  startTestKvIndex,
  useServers,
} from "../support/stack.ts";

const prompt = (seed: number, blocks: number) =>
  Array.from({ length: blocks * 16 }, (_, i) => ((seed * 7_919 + i * 13) % 60_000) + 1);

const t = useServers();

/** Every key of the database with its value, as a replica lagging behind would hold them. */
async function snapshot(redis: Redis): Promise<[string, Buffer][]> {
  const keys = await redis.keys("*");
  return Promise.all(keys.map(async (k) => [k, (await redis.dumpBuffer(k))!] as [string, Buffer]));
}

/** The database becomes the snapshot, atomically: what a failover to that replica does. */
async function failOverTo(redis: Redis, snap: [string, Buffer][]): Promise<void> {
  const tx = redis.multi().flushdb();
  for (const [k, v] of snap) tx.restore(k, 0, v);
  await tx.exec();
}

it("kv-index - writes the store acknowledged then lost (failover to a lagging replica) come back from the stream", async () => {
  const redis = new Redis(t.redis.url);
  t.cleanups.push(async () => {
    redis.disconnect();
  });
  const kvi = await startTestKvIndex({
    natsUrl: t.nats.url,
    redisUrl: t.redis.url,
    indexBackend: "redis",
    zmqMode: "connect",
    lookup: false,
  });
  t.cleanups.push(() => kvi.stop());
  const engines = await Promise.all(["w1", "w2"].map((pod) => FakeEngine.start({ pod, model: MODEL })));
  for (const e of engines) {
    t.cleanups.push(() => e.close());
    await registerEndpoint(t.nc, { pod: e.options.pod, kvEvents: e.pubEndpoint, replay: e.replayEndpoint });
  }
  let n = 0;
  const churn = async (rounds: number) => {
    for (let r = 0; r < rounds; r++, n++) {
      for (const e of engines) {
        const hashes = await e.store([...prompt(n % 3, 2), ...prompt(100 + n, 2)]);
        // Removals too: a lost BlockRemoved leaves a block the engine no longer holds.
        if (n % 2 === 0) await e.evict([hashes[hashes.length - 1]!, hashes[hashes.length - 2]!]);
      }
    }
  };
  await waitFor(
    async () => {
      for (const e of engines) await e.send([]);
      return (await kvi.index!.engines(MODEL)).length === 2;
    },
    { timeoutMs: 15_000, message: "both engines indexed" },
  );
  await churn(3);
  for (const e of engines) await expectIndexEquals(kvi.index!, e.options.pod, e.cached);
  const rebuilds = await metricValue(kvi.registry, "inferd_kv_indexer_rebuilds_total");

  // 1. The engines go quiet after the failover: the periodic check finds the hole.
  const early = await snapshot(redis);
  await churn(4);
  for (const e of engines) await expectIndexEquals(kvi.index!, e.options.pod, e.cached);
  await failOverTo(redis, early);
  for (const e of engines) await expectIndexEquals(kvi.index!, e.options.pod, e.cached, MODEL, 60_000);
  expect(await metricValue(kvi.registry, "inferd_kv_indexer_store_replays_total")).toBeGreaterThanOrEqual(1);

  // 2. Events keep coming after the failover: the next write is refused and replayed instead.
  const replays = await metricValue(kvi.registry, "inferd_kv_indexer_store_replays_total");
  const before = await snapshot(redis);
  await churn(4);
  for (const e of engines) await expectIndexEquals(kvi.index!, e.options.pod, e.cached);
  await failOverTo(redis, before);
  await churn(2);
  for (const e of engines) await expectIndexEquals(kvi.index!, e.options.pod, e.cached, MODEL, 60_000);
  expect(await metricValue(kvi.registry, "inferd_kv_indexer_store_replays_total")).toBeGreaterThan(replays);
  // Replayed, not rebuilt from the start: the generation marker survived the failover.
  expect(await metricValue(kvi.registry, "inferd_kv_indexer_rebuilds_total")).toBe(rebuilds);
}, 240_000);
