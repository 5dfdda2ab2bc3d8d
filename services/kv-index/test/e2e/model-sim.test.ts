import { waitFor } from "@inferd/testkit";
import { expect, it } from "vitest";
import { metricValue } from "../helpers.ts";
import { cachedSetFromHistory, complete, type SimProcess, startSim } from "../support/model-sim.ts";
import {
  expectIndexEquals,
  indexedEngineView,
  MODEL,
  postLookup,
  registerEndpoint,
  startTestKvIndex,
  useServers,
} from "../support/stack.ts";

const t = useServers();

const topics = ["prefix caching", "vLLM scheduling", "ZeroMQ sockets", "Redis hash slots", "NATS JetStream"];
function promptOf(i: number): string {
  const shared =
    `System: you are a careful assistant who answers about ${topics[i % topics.length]}. `.repeat(6);
  return `${shared}User question number ${i}: explain it with an example about item ${i * 7}.`;
}

async function churn(sims: SimProcess[], from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i += 4) {
    await Promise.all(
      sims.flatMap((s) =>
        [0, 1, 2, 3].filter((k) => i + k < from + count).map((k) => complete(s, promptOf(i + k))),
      ),
    );
  }
}

it("kv-index - model-sim churn with eviction: the index equals each simulator's cached set (array and map), also after a simulator restart", async () => {
  const kvi = await startTestKvIndex({
    natsUrl: t.nats.url,
    redisUrl: t.redis.url,
    indexBackend: "redis",
    zmqMode: "connect",
  });
  t.cleanups.push(() => kvi.stop());
  const sims = await Promise.all([
    startSim({ pod: "sim-array", encoding: "array", gpuBlocks: 80 }),
    startSim({ pod: "sim-map", encoding: "map", gpuBlocks: 80 }),
  ]);
  for (const s of sims) {
    t.cleanups.push(() => s.stop());
    await registerEndpoint(t.nc, { pod: s.pod, kvEvents: s.kvEvents, replay: s.replay, address: s.url });
  }
  const index = kvi.index!;
  // The indexer asked the registered servers' GET /version (model-sim answers 0.34.0 by default).
  await waitFor(() => kvi.versions.rulesFor(MODEL).version === "0.34.0" && kvi.versions.detected(MODEL), {
    message: "vLLM version never detected",
  });

  await churn(sims, 0, 40);
  for (const s of sims) {
    const truth = await cachedSetFromHistory(s);
    // Evictions happened: the cache is full and earlier prompts' blocks are gone.
    expect(truth.size).toBeGreaterThan(20);
    expect(truth.size).toBeLessThanOrEqual(80);
    await expectIndexEquals(index, s.pod, truth);
  }
  expect(
    await metricValue(kvi.registry, "inferd_kv_ingest_blocks_total", { type: "removed" }),
  ).toBeGreaterThan(0);

  // The last prompt is cached on both: a text lookup (tokenised by kv-index) sees it.
  const last = await postLookup(kvi.httpUrl, { model: MODEL, text: promptOf(39) });
  expect(last.status).toBe(200);
  expect(last.json.pods.map((p: { pod: string }) => p.pod).sort()).toEqual(["sim-array", "sim-map"]);
  expect(last.json.pods[0].gpuBlocks).toBeGreaterThan(0);

  // Restart one simulator on the same ports: its entries are cleared and rebuilt from its new life.
  const old = sims[0]!;
  await old.stop();
  sims[0] = await startSim({ pod: old.pod, encoding: "array", gpuBlocks: 80, ports: old.ports });
  t.cleanups.push(() => sims[0]!.stop());
  // Traffic until kv-index has reconnected and noticed the restart (events sent before the SUB
  // reconnects are lost on the live path and come back through replay).
  let round = 100;
  await waitFor(
    async () => {
      await churn([sims[0]!], round, 4);
      round += 4;
      return (await metricValue(kvi.registry, "inferd_kv_ingest_engine_restarts_total")) >= 1;
    },
    { timeoutMs: 30_000, message: "restart detected" },
  );
  await churn([sims[0]!], round, 8);
  const truth = await cachedSetFromHistory(sims[0]!);
  await expectIndexEquals(index, old.pod, truth);
  const view = await indexedEngineView(index, old.pod);
  expect(view.size).toBe(truth.size);

  // vLLM's /reset_prefix_cache emits AllBlocksCleared: that pod's entries go, the other's stay.
  const sizeBefore = (await indexedEngineView(index, "sim-array")).size;
  const res = await fetch(`${sims[1]!.url}/reset_prefix_cache`, { method: "POST" });
  expect(res.ok).toBe(true);
  await waitFor(async () => (await indexedEngineView(index, "sim-map")).size === 0, {
    message: "sim-map cleared",
  });
  expect((await indexedEngineView(index, "sim-array")).size).toBe(sizeBefore);
  // Two simulators, 40 rounds of churn and a restart: about 10 s idle, over 30 s under a full parallel suite.
}, 120_000);
