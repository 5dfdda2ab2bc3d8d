import { join } from "node:path";
import { RedisBlockIndex } from "@inferd/block-index";
import { startProcess, waitFor } from "@inferd/testkit";
import { Redis } from "ioredis";
import { expect, it } from "vitest";
import type { RunningKvIndex } from "../../src/service.ts";
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
  Array.from({ length: blocks * 16 }, (_, i) => ((seed * 104_729 + i * 31) % 60_000) + 1);

const t = useServers();

it("kv-index - indexer restart and Redis restart end with a correct index (rebuilt from the stream)", async () => {
  // Ingest and indexer as separate deployments, as they scale apart.
  const ingest = await startTestKvIndex({
    natsUrl: t.nats.url,
    zmqMode: "connect",
    indexer: false,
    lookup: false,
  });
  t.cleanups.push(() => ingest.stop());
  const engines = await Promise.all(
    ["r1", "r2"].map((pod, i) =>
      FakeEngine.start({ pod, model: MODEL, encoding: i === 0 ? "array" : "map" }),
    ),
  );
  for (const e of engines) {
    t.cleanups.push(() => e.close());
    await registerEndpoint(t.nc, { pod: e.options.pod, kvEvents: e.pubEndpoint, replay: e.replayEndpoint });
  }
  const startIndexer = () =>
    startTestKvIndex({ natsUrl: t.nats.url, redisUrl: t.redis.url, indexBackend: "redis", ingest: false });
  let indexer: RunningKvIndex = await startIndexer();
  t.cleanups.push(() => indexer.stop());

  // Churn: stores with shared prefixes and evictions on both engines.
  let n = 0;
  const churn = async (rounds: number) => {
    for (let r = 0; r < rounds; r++, n++) {
      for (const e of engines) {
        const hashes = await e.store([...prompt(n % 5, 2), ...prompt(n, 3)]);
        if (n % 3 === 0) await e.evict([hashes[hashes.length - 1]!]);
      }
    }
  };
  await churn(4);
  await waitFor(
    async () => {
      for (const e of engines) await e.send([]);
      return (await indexer.index!.engines(MODEL)).length === 2;
    },
    { timeoutMs: 10_000, message: "both engines indexed" },
  );
  for (const e of engines) await expectIndexEquals(indexer.index!, e.options.pod, e.cached);

  // Kill the indexer (events keep flowing into the stream), then start it again.
  await indexer.stop();
  await churn(6);
  indexer = await startIndexer();
  for (const e of engines) await expectIndexEquals(indexer.index!, e.options.pod, e.cached);
  expect(await metricValue(indexer.registry, "inferd_kv_indexer_rebuilds_total")).toBe(0);

  // Redis restarts empty: the indexer notices the missing generation and rebuilds from the stream.
  await t.redis.restart();
  await churn(3);
  await waitFor(async () => (await metricValue(indexer.registry, "inferd_kv_indexer_rebuilds_total")) >= 1, {
    timeoutMs: 15_000,
    message: "rebuild after Redis restart",
  });
  for (const e of engines) await expectIndexEquals(indexer.index!, e.options.pod, e.cached);
});

it("kv-index - an indexer process killed (SIGKILL) in the middle of a burst resumes to a correct index", async () => {
  const ingest = await startTestKvIndex({
    natsUrl: t.nats.url,
    zmqMode: "connect",
    indexer: false,
    lookup: false,
    subjectPrefix: "killtest",
  });
  t.cleanups.push(() => ingest.stop());
  const engine = await FakeEngine.start({ pod: "k1", model: MODEL, encoding: "map" });
  t.cleanups.push(() => engine.close());
  // The inventory of the "killtest" installation: <PREFIX>_ENDPOINTS carries the prefix.
  await registerEndpoint(t.nc, {
    pod: "k1",
    kvEvents: engine.pubEndpoint,
    replay: engine.replayEndpoint,
    prefix: "killtest",
  });
  const redisUrl = `${t.redis.url}/3`;
  const reader = new RedisBlockIndex(new Redis(redisUrl));
  t.cleanups.push(() => reader.close());
  const startIndexerProcess = () =>
    startProcess({
      command: process.execPath,
      args: [join(import.meta.dirname, "../../src/main.ts")],
      env: {
        ...process.env,
        INFERD_KV_INDEX_NATS_URL: t.nats.url,
        INFERD_KV_INDEX_REDIS_URL: redisUrl,
        INFERD_KV_INDEX_SUBJECT_PREFIX: "killtest",
        INFERD_KV_INDEX_INGEST: "false",
        INFERD_KV_INDEX_LOOKUP: "false",
        INFERD_KV_INDEX_HTTP_PORT: "0",
        INFERD_KV_INDEX_INDEXER_DURABLE: "killtest",
        INFERD_KV_INDEX_LOG_LEVEL: "warn",
      },
    });
  let proc = startIndexerProcess();
  t.cleanups.push(() => proc.stop());
  // A burst of stores and evictions; the indexer is killed while it is applying them.
  const burst = async (from: number, n: number) => {
    for (let i = from; i < from + n; i++) {
      const hashes = await engine.store([...prompt(i % 7, 2), ...prompt(1000 + i, 2)]);
      if (i % 2 === 0) await engine.evict([hashes[3]!]);
    }
  };
  await waitFor(
    async () => {
      await engine.send([]);
      return (await reader.engines(MODEL)).includes("k1");
    },
    { timeoutMs: 15_000, message: "indexer process running" },
  ).catch((err) => {
    throw new Error(`${(err as Error).message}\n${proc.output()}`);
  });
  await burst(0, 150);
  await proc.kill();
  await burst(150, 50);
  proc = startIndexerProcess();
  await expectIndexEquals(reader, "k1", engine.cached, MODEL, 30_000);
}, 90_000);

it("kv-index - a NATS restart in the middle of traffic ends with a correct index", async () => {
  const kvi = await startTestKvIndex({
    natsUrl: t.nats.url,
    redisUrl: `${t.redis.url}/5`,
    indexBackend: "redis",
    zmqMode: "connect",
    indexerDurable: "natsrestart",
  });
  t.cleanups.push(() => kvi.stop());
  const engine = await FakeEngine.start({ pod: "n1", model: MODEL });
  t.cleanups.push(() => engine.close());
  await registerEndpoint(t.nc, { pod: "n1", kvEvents: engine.pubEndpoint, replay: engine.replayEndpoint });
  const burst = async (from: number, n: number) => {
    for (let i = from; i < from + n; i++) {
      const hashes = await engine.store([...prompt(i % 5, 2), ...prompt(2000 + i, 2)]);
      if (i % 3 === 0) await engine.evict([hashes[3]!]);
    }
  };
  await waitFor(
    async () => {
      await engine.send([]);
      return (await kvi.index!.engines(MODEL)).includes("n1");
    },
    { timeoutMs: 15_000, message: "n1 indexed" },
  );
  await burst(0, 40);
  await t.nats.restart();
  await burst(40, 40);
  await expectIndexEquals(kvi.index!, "n1", engine.cached, MODEL, 30_000);
}, 90_000);
