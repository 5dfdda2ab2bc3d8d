import { AckPolicy, DeliverPolicy, jetstreamManager } from "@inferd/bus";
import { subjects as subjectsOf } from "@inferd/protocol";
import { waitFor } from "@inferd/testkit";
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
  Array.from({ length: blocks * 16 }, (_, i) => ((seed * 7_919 + i * 13) % 50_000) + 1);

const t = useServers();

it("kv-index - the indexer acknowledges cumulatively (one ack for many batches) and takes over a consumer of the per-message ack release", async () => {
  const prefix = "acktest";
  const durable = "acktest-indexer";
  const stream = subjectsOf(prefix).streams.kvEvents;
  const ingest = await startTestKvIndex({
    natsUrl: t.nats.url,
    zmqMode: "connect",
    indexer: false,
    lookup: false,
    subjectPrefix: prefix,
    // One stream message per batch: the test counts acks against messages written.
    publishLingerMs: 0,
  });
  t.cleanups.push(() => ingest.stop());
  const engine = await FakeEngine.start({ pod: "a1", model: MODEL, encoding: "array" });
  t.cleanups.push(() => engine.close());
  await registerEndpoint(t.nc, {
    pod: "a1",
    kvEvents: engine.pubEndpoint,
    replay: engine.replayEndpoint,
    prefix,
  });
  const startIndexer = () =>
    startTestKvIndex({
      natsUrl: t.nats.url,
      redisUrl: `${t.redis.url}/4`,
      indexBackend: "redis",
      ingest: false,
      lookup: false,
      subjectPrefix: prefix,
      indexerDurable: durable,
    });
  let indexer: RunningKvIndex = await startIndexer();
  t.cleanups.push(() => indexer.stop());
  await waitFor(
    async () => {
      await engine.send([]);
      return (await indexer.index!.engines(MODEL)).includes("a1");
    },
    { timeoutMs: 15_000, message: "engine indexed" },
  );
  await indexer.stop();

  // What the previous release left behind: the same durable with per-message acks, at its floor.
  const jsm = await jetstreamManager(t.nc);
  const old = await jsm.consumers.info(stream, durable);
  expect(old.config.ack_policy).toBe(AckPolicy.All);
  await jsm.consumers.delete(stream, durable);
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: old.ack_floor.stream_seq + 1,
    filter_subject: old.config.filter_subject,
    ack_wait: 60_000_000_000,
  });

  // Batches written while the indexer is away; it catches up with few acks.
  const before = (await jsm.streams.info(stream)).state.last_seq;
  for (let i = 0; i < 60; i++) {
    const hashes = await engine.store([...prompt(i % 4, 2), ...prompt(100 + i, 2)]);
    if (i % 3 === 0) await engine.evict([hashes[3]!]);
  }
  await waitFor(async () => (await jsm.streams.info(stream)).state.last_seq >= before + 80, {
    timeoutMs: 15_000,
    message: "batches in the stream",
  });
  const written = (await jsm.streams.info(stream)).state.last_seq - before;
  let acks = 0;
  const sub = t.nc.subscribe("$JS.ACK.>", {
    callback: (_err, msg) => {
      if (msg.subject.includes(`.${durable}.`)) acks++;
    },
  });
  t.cleanups.push(async () => sub.unsubscribe());

  indexer = await startIndexer();
  await expectIndexEquals(indexer.index!, "a1", engine.cached, MODEL, 30_000);
  const last = (await jsm.streams.info(stream)).state.last_seq;
  await waitFor(
    async () => {
      const info = await jsm.consumers.info(stream, durable);
      return info.ack_floor.stream_seq === last && info.num_ack_pending === 0;
    },
    { timeoutMs: 15_000, message: "everything applied is acknowledged" },
  );
  const info = await jsm.consumers.info(stream, durable);
  expect(info.config.ack_policy).toBe(AckPolicy.All);
  expect(await metricValue(indexer.registry, "inferd_kv_indexer_rebuilds_total")).toBe(0);
  // One ack per batch before; one per delivered chunk at most now (a catch-up is a few chunks).
  expect(acks).toBeGreaterThan(0);
  expect(acks).toBeLessThanOrEqual(Math.ceil(written / 5));
}, 60_000);
