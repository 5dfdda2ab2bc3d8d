/**
 * CPU the scorer's index replica spends per KV event batch (issue 16, lean hot path): the real
 * replica (`startIndexReplica`: ordered JetStream consumer on INFERD_KV_EVENTS, protobuf decode,
 * the shared Indexer into the in-memory index) catching up with a backlog published beforehand to
 * a real nats-server. Batches are shaped like model-sim's: per pod a growing chain of BlockStored
 * blocks (16 tokens each) and, every 4th batch, a BlockRemoved of an older block. A backlog
 * arrives in large bursts; live traffic (a few batches per socket read) gains less from the
 * burst-wise apply, see services/scorer/bench/README.md. Prints figures, asserts nothing.
 *
 *   node services/scorer/bench/replica-consume.bench.ts [--batches 20000] [--pods 4] [--blocks 16]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { connectNats, encodeMessage, jetStreamClient, jetstreamManager, messageHeaders } from "@inferd/bus";
import {
  BlockRemovedSchema,
  BlockStoredSchema,
  KvEventBatchSchema,
  make,
  StorageTier,
  subjects,
} from "@inferd/protocol";
import { createLogger } from "@inferd/service-kit";
import { startNats, waitFor } from "@inferd/testkit";
import { Registry } from "prom-client";
import { startIndexReplica } from "../src/adapters/index-replica.ts";

const { values: args } = parseArgs({
  options: {
    batches: { type: "string", default: "20000" },
    pods: { type: "string", default: "4" },
    blocks: { type: "string", default: "16" },
  },
});
const BATCHES = Number(args.batches);
const PODS = Number(args.pods);
const BLOCKS = Number(args.blocks);
const BS = 16;
const MODEL = "Qwen/Qwen3-32B";
const s = subjects("inferd");
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

const nats = await startNats({ jetstream: true });
const nc = await connectNats({ servers: nats.url, name: "bench" });
try {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: s.streams.kvEvents, subjects: [s.kvEventsAll()] });
  const js = jetStreamClient(nc);
  const headers = messageHeaders(KvEventBatchSchema);
  const next = Array.from({ length: PODS }, (_, p) => ({ hash: BigInt(p) << 40n, seq: 0n }));
  let pendingAcks: Promise<unknown>[] = [];
  for (let i = 0; i < BATCHES; i++) {
    const p = i % PODS;
    const pod = next[p]!;
    const first = pod.hash + 1n;
    const hashes = Array.from({ length: BLOCKS }, (_, b) => first + BigInt(b));
    const events: unknown[] = [
      {
        event: {
          case: "blockStored",
          value: make(BlockStoredSchema, {
            blockHashes: hashes,
            ...(pod.seq > 0n ? { parentBlockHash: pod.hash } : {}),
            tokenIds: Array.from({ length: BLOCKS * BS }, (_, t) => (i * 131 + t * 7) % 150_000),
            blockSize: BS,
            tier: StorageTier.GPU,
          }),
        },
      },
    ];
    if (i % 4 === 3)
      events.push({
        event: {
          case: "blockRemoved",
          value: make(BlockRemovedSchema, {
            blockHashes: [first - BigInt(8 * BLOCKS)],
            tier: StorageTier.GPU,
          }),
        },
      });
    pod.hash = hashes[hashes.length - 1]!;
    const batch = make(KvEventBatchSchema, {
      model: MODEL,
      pod: `sim-${p}`,
      seq: pod.seq++,
      tsSeconds: 1,
      receivedUnixMs: BigInt(Date.now()),
      events: events as never,
    });
    pendingAcks.push(
      js.publish(s.kvEvents(MODEL, `sim-${p}`), encodeMessage(KvEventBatchSchema, batch), { headers }),
    );
    if (pendingAcks.length >= 256) {
      await Promise.all(pendingAcks);
      pendingAcks = [];
    }
  }
  await Promise.all(pendingAcks);

  const registry = new Registry();
  const c0 = cpuMs();
  const t0 = performance.now();
  const replica = startIndexReplica(nc, {
    prefix: "inferd",
    blockSize: BS,
    maxBlocksPerEngine: 0,
    bootstrapFrom: undefined,
    logger: createLogger({ service: "bench", level: "warn" }),
    registry,
  });
  const batches = registry.getSingleMetric("inferd_scorer_index_replica_batches_total")!;
  const applied = async () => (await batches.get()).values.reduce((sum, v) => sum + v.value, 0);
  await waitFor(async () => (await applied()) >= BATCHES, {
    timeoutMs: 600_000,
    intervalMs: 50,
    message: "replica caught up",
  });
  const cpu = cpuMs() - c0;
  const wall = performance.now() - t0;
  const entries = await replica.index.size();
  await replica.stop();
  process.stdout.write(
    `${BATCHES} KV event batches (${PODS} pods, ${BLOCKS} blocks each, a removal every 4th) applied by the index ` +
      `replica from a backlog: CPU ${((1000 * cpu) / BATCHES).toFixed(1)} us per batch ` +
      `(wall ${(wall / 1000).toFixed(2)} s, ${entries} entries); load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")}\n`,
  );
} finally {
  await nc.drain();
  await nats.stop();
}
