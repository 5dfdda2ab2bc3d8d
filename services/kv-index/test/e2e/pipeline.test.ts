import { type NatsConnection, serviceClient } from "@inferd/bus";
import { KvLookupRequestSchema, KvLookupResponseSchema, make, subjects } from "@inferd/protocol";
import {
  freePort,
  type NatsServerHandle,
  type RedisServerHandle,
  startNats,
  startRedis,
  waitFor,
} from "@inferd/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningKvIndex } from "../../src/service.ts";
import { tailKvEvents } from "../../src/tail.ts";
import { metricValue } from "../helpers.ts";
import { FakeEngine } from "../support/fake-engine.ts";
import {
  expectIndexEquals,
  MODEL,
  natsClient,
  postLookup,
  registerEndpoint,
  startTestKvIndex,
  unregisterEndpoint,
} from "../support/stack.ts";

const prompt = (seed: number, blocks: number) =>
  Array.from({ length: blocks * 16 }, (_, i) => ((seed * 7919 + i) % 50_000) + 1);

let nats: NatsServerHandle;
let redis: RedisServerHandle;
let nc: NatsConnection;
beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  nc = await natsClient(nats.url);
});
afterAll(async () => {
  await nc?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

const cases = [
  { backend: "memory" as const, encoding: "array" as const, replayWithTopic: false },
  { backend: "redis" as const, encoding: "map" as const, replayWithTopic: true },
];

describe.each(cases)(
  "kv-index - pipeline ZeroMQ -> JetStream -> $backend index ($encoding events, replay topic frame: $replayWithTopic)",
  // One retry, until full CI runs confirm the fix: "first events indexed" timed out in about one
  // of four full CI runs. A lost replay reply loses exactly those blocks and is now asked again
  // (see the unanswered-replays test below), but it was not seen to happen under load here. A
  // second failure still fails CI; the first prints the ingest and indexer counters.
  { retry: 1 },
  ({ backend, encoding, replayWithTopic }) => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    it("follows stores, copies, removals, a forced gap (replayed) and an engine restart", async () => {
      const pod = `pod-${backend}`;
      // One model per case: the stream is shared by the cases and each index reads all of it.
      const model = `${MODEL}-${backend}`;
      const kvi: RunningKvIndex = await startTestKvIndex({
        natsUrl: nats.url,
        redisUrl: `${redis.url}/${backend === "redis" ? 1 : 0}`,
        indexBackend: backend,
        zmqMode: "connect",
        indexerDurable: `idx-${backend}`,
      });
      cleanups.push(() => kvi.stop());
      let engine = await FakeEngine.start({ pod, model, encoding, replayWithTopic });
      cleanups.push(() => engine.close());
      await registerEndpoint(nc, { pod, model, kvEvents: engine.pubEndpoint, replay: engine.replayEndpoint });
      const index = kvi.index!;

      // ZeroMQ's slow joiner: batches sent before the SUB is connected are lost; the first batch
      // seen then has seq > 0 and ingest replays from 0. Keep sending until something arrives.
      const a = prompt(1, 6);
      await engine.store(a);
      await waitFor(
        async () => {
          await engine.send([]);
          return (await index.snapshot(model, pod)).engineToRequest.size > 0;
        },
        // Generous: under the full suite on 2 cores the first batches can take many seconds.
        { timeoutMs: 60_000, message: "first events indexed" },
      ).catch(async (err: Error) => {
        // Say where the batches stopped (replays_total{result="failed"}: a replay reply lost).
        const counters = (await kvi.registry.metrics())
          .split("\n")
          .filter((l) => /^inferd_kv_(ingest|indexer|publish)/.test(l) && !/_bucket\{/.test(l));
        throw new Error(`${err.message}\n${counters.join("\n")}`);
      });
      await expectIndexEquals(index, pod, engine.cached, model);

      // A branch sharing 3 blocks, a duplicate physical copy, removals.
      const b = [...a.slice(0, 48), ...prompt(2, 3)];
      await engine.store(b);
      const hashesA = engine.hashes(a);
      await engine.send([
        {
          type: "BlockStored",
          blockHashes: [hashesA[0]!],
          parentBlockHash: null,
          tokenIds: a.slice(0, 16),
          blockSize: 16,
          medium: "GPU",
        },
      ]);
      engine.cached.set(hashesA[0]!, 2);
      await engine.evict([hashesA[5]!, hashesA[0]!]);
      await expectIndexEquals(index, pod, engine.cached, model);

      // Forced gap: two batches never reach the SUB; the next one reveals the gap; replay repairs it.
      const c = prompt(3, 4);
      await engine.store(c, { drop: true });
      await engine.evict([hashesA[4]!], { drop: true });
      await engine.store(prompt(4, 2));
      await expectIndexEquals(index, pod, engine.cached, model);
      expect(await metricValue(kvi.registry, "inferd_kv_ingest_gaps_total")).toBe(1);
      expect(
        await metricValue(kvi.registry, "inferd_kv_ingest_replays_total", { result: "repaired" }),
      ).toBeGreaterThanOrEqual(1);

      // The lookup API agrees: c fully held, a held up to its evicted block 4.
      const lc = await postLookup(kvi.httpUrl, { model, tokens: c });
      expect(lc.status).toBe(200);
      expect(lc.json.pods).toEqual([{ pod, gpuBlocks: 4, cpuBlocks: 4, matchedBlocks: 4 }]);
      const la = await postLookup(kvi.httpUrl, {
        model,
        tokens: [...a, 1, 2, 3],
        candidate_pods: [pod, "other"],
      });
      expect(la.json).toMatchObject({ totalBlocks: 6, blockSize: 16, promptTokens: 99 });
      expect(la.json.pods).toEqual([{ pod, gpuBlocks: 4, cpuBlocks: 4, matchedBlocks: 4 }]);
      // The same over NATS (inferd.v1.kv.lookup, protobuf), and a bad request gets a 400.
      const client = serviceClient(nc, subjects().kvLookup(), KvLookupRequestSchema, KvLookupResponseSchema);
      const viaNats = await client.call(
        make(KvLookupRequestSchema, { model, prompt: { case: "tokens", value: { ids: c } } }),
        { timeoutMs: 5_000 },
      );
      expect(viaNats.pods.map((p) => [p.pod, p.gpuBlocks])).toEqual([[pod, 4]]);
      await expect(
        client.call(make(KvLookupRequestSchema, { model }), { timeoutMs: 5_000 }),
      ).rejects.toMatchObject({
        code: "bad_request",
      });

      // Engine restart: same ports, seq from 0, empty cache. The pod is cleared, then refilled.
      const ports = { pubPort: engine.options.pubPort, replayPort: engine.options.replayPort };
      await engine.close();
      engine = await FakeEngine.start({ pod, model, encoding, replayWithTopic, ...ports });
      const d = prompt(5, 3);
      await engine.store(d);
      await waitFor(
        async () => {
          await engine.send([]);
          return (await metricValue(kvi.registry, "inferd_kv_ingest_engine_restarts_total")) >= 1;
        },
        { timeoutMs: 10_000, message: "engine restart detected" },
      );
      await expectIndexEquals(index, pod, engine.cached, model);
      // Ingest and indexer share this process: the indexer took the batches the ingest published
      // (matched by stream sequence, subject and bytes) instead of decoding them, and the index
      // checked above is what they built.
      expect(
        await metricValue(kvi.registry, "inferd_kv_indexer_handoffs_total", { result: "hit" }),
      ).toBeGreaterThan(0);

      // Anyone can follow the stream: tailKvEvents from the start, for this model and pod.
      const seen: string[] = [];
      const stopTail = await tailKvEvents(nc, { model, pod, from: "all" }, (b) => {
        seen.push(b.events[0]?.event.case ?? "empty");
      });
      await waitFor(() => seen.includes("podReset") && seen.includes("blockRemoved"), {
        message: "tail sees the stream",
      });
      await stopTail();

      // The pod leaves the inventory: its entries are purged.
      await unregisterEndpoint(nc, pod, model);
      await waitFor(async () => !(await index.engines(model)).includes(pod), { message: "pod purged" });
    }, 90_000); // a real pipeline of processes and sockets: slow when the whole suite shares 2 cores
  },
);

// The likely cause of the case above timing out on "first events indexed": a replay reply that
// came after its deadline (a stalled engine, a starved process) lost the blocks the engine stored
// before the SUB joined, for good. Here the engine stores before it is registered, so only a
// replay can bring them, and leaves the first two requests (the catch-up and the first-sight
// replay) unanswered: without the second request this times out exactly like the case above.
it("kv-index - replay requests left unanswered are asked again: blocks stored before the SUB joined are learnt", async () => {
  const pod = "pod-stalled";
  const model = `${MODEL}-stalled`;
  const kvi = await startTestKvIndex({ natsUrl: nats.url, indexBackend: "memory", zmqMode: "connect" });
  const engine = await FakeEngine.start({ pod, model, unansweredReplays: 2 });
  try {
    await engine.store(prompt(7, 4));
    await registerEndpoint(nc, { pod, model, kvEvents: engine.pubEndpoint, replay: engine.replayEndpoint });
    await waitFor(
      async () => {
        await engine.send([]);
        return (await kvi.index!.snapshot(model, pod)).engineToRequest.size > 0;
      },
      // Two replay timeouts (2 s each) first; generous for the full suite on 2 cores.
      { timeoutMs: 60_000, message: "blocks stored before the SUB joined" },
    );
    await expectIndexEquals(kvi.index!, pod, engine.cached, model);
    expect(
      await metricValue(kvi.registry, "inferd_kv_ingest_replays_total", { result: "failed" }),
    ).toBeGreaterThanOrEqual(1);
  } finally {
    await engine.close();
    await kvi.stop();
    await unregisterEndpoint(nc, pod, model);
  }
}, 90_000);

it("kv-index - bind mode: engines connect to kv-index's SUB; replay endpoints from config", async () => {
  const port = await freePort();
  const replayPort = await freePort();
  const kvi = await startTestKvIndex({
    natsUrl: nats.url,
    indexBackend: "memory",
    zmqMode: "bind",
    zmqBindEndpoint: `tcp://127.0.0.1:${port}`,
    zmqTopicFilter: "kv@",
    useInventory: false,
    purgeDepartedPods: false,
    replayEndpoints: { b1: `tcp://127.0.0.1:${replayPort}` },
  });
  const model = `${MODEL}-bind`;
  const engines = await Promise.all(
    ["b1", "b2"].map((pod) =>
      FakeEngine.start({
        pod,
        model,
        connectTo: `tcp://127.0.0.1:${port}`,
        ...(pod === "b1" ? { replayPort } : {}),
      }),
    ),
  );
  try {
    for (const [i, e] of engines.entries()) await e.store(prompt(10 + i, 3));
    await waitFor(
      async () => {
        for (const e of engines) await e.send([]);
        return (await kvi.index!.engines(model)).length === 2;
      },
      { timeoutMs: 10_000, message: "both engines seen" },
    );
    // Without replay endpoints, blocks sent before the connection settled may be missing; new
    // ones always arrive.
    for (const [i, e] of engines.entries()) await e.store(prompt(20 + i, 2));
    for (const [i, e] of engines.entries()) {
      const hashes = e.hashes(prompt(20 + i, 2));
      await waitFor(
        async () => {
          const view = await kvi.index!.snapshot(model, e.options.pod);
          return hashes.every((h) => view.engineToRequest.has(h));
        },
        { message: `blocks of ${e.options.pod}` },
      );
    }
    // b1 has a replay endpoint: whatever the slow joiner lost came back, its view is exact.
    await expectIndexEquals(kvi.index!, "b1", engines[0]!.cached, model);
  } finally {
    for (const e of engines) await e.close();
    await kvi.stop();
  }
});
