import { type BlockIndex, createIndex, type InMemoryBlockIndex } from "@inferd/block-index";
import {
  connectNats,
  jetStreamClient,
  jetstreamManager,
  messageHeaders,
  type NatsConnection,
} from "@inferd/bus";
import { requestKeys } from "@inferd/kv-blocks";
import { KV_INDEX_CONFIG, type RunningKvIndex, startKvIndex } from "@inferd/kv-index";
import {
  BlockStoredSchema,
  encode,
  KvEventBatchSchema,
  make,
  STREAMS,
  StorageTier,
  subjects,
} from "@inferd/protocol";
import { type IndexReplica, startIndexReplica } from "@inferd/scorer";
import { createLogger, loadConfig } from "@inferd/service-kit";
import {
  type NatsServerHandle,
  type RedisServerHandle,
  startNats,
  startRedis,
  waitFor,
} from "@inferd/testkit";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The scorer's in-process index replica and kv-index's Redis index are fed by the same stream
 * through the same Indexer: after a restart of either, they hold exactly the same blocks.
 */
const MODEL = "Qwen/Qwen3-32B";
const BS = 16;
const logger = createLogger({ service: "index-replica-e2e", level: process.env.E2E_LOG ?? "silent" });

let nats: NatsServerHandle;
let redis: RedisServerHandle;
let nc: NatsConnection;
let redisView: BlockIndex;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  nc = await connectNats({ servers: nats.url, name: "index-replica-e2e" });
  redisView = createIndex({ backend: "redis", redisUrl: redis.url }, "read", 5_000);
});
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await redisView?.close();
  await nc?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

async function kvIndex(): Promise<RunningKvIndex> {
  const config = loadConfig("kv-index", KV_INDEX_CONFIG, {
    env: {},
    overrides: {
      natsUrl: nats.url,
      redisUrl: redis.url,
      ingest: false,
      httpPort: 0,
      httpHost: "127.0.0.1",
      blockSize: BS,
      purgeDepartedPods: false,
    },
  });
  const k = await startKvIndex(config, logger);
  cleanups.push(() => k.stop());
  return k;
}

function replica(bootstrap: boolean): IndexReplica {
  const r = startIndexReplica(nc, {
    prefix: "inferd",
    blockSize: BS,
    maxBlocksPerEngine: 0,
    bootstrapFrom: bootstrap
      ? () => createIndex({ backend: "redis", redisUrl: redis.url }, "read", 5_000)
      : undefined,
    logger,
    registry: new Registry(),
  });
  cleanups.push(() => r.stop());
  return r;
}

/** Engine state of each pod, with its checkpoint (the stream position it reflects). */
async function state(index: BlockIndex): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const engine of (await index.engines(MODEL)).sort()) {
    const snap = await index.snapshot(MODEL, engine);
    out[engine] = {
      checkpoint: (await index.checkpoint(MODEL, engine))?.seq,
      mappings: [...snap.engineToRequest].sort(),
      gpu: [...snap.copies.gpu].sort(),
      cpu: [...snap.copies.cpu].sort(),
    };
  }
  return out;
}

async function converged(...replicas: InMemoryBlockIndex[]): Promise<void> {
  await waitFor(
    async () => {
      const want = JSON.stringify(await state(redisView), (_k, v) => (typeof v === "bigint" ? String(v) : v));
      for (const r of replicas) {
        const got = JSON.stringify(await state(r), (_k, v) => (typeof v === "bigint" ? String(v) : v));
        if (got !== want) return false;
      }
      return want !== "{}";
    },
    { timeoutMs: 20_000 },
  ).catch(async (err) => {
    const show = async (i: BlockIndex) =>
      JSON.stringify(await state(i), (_k, v) => (typeof v === "bigint" ? String(v) : v));
    throw new Error(
      `not converged: redis ${await show(redisView)}; replicas ${(await Promise.all(replicas.map(show))).join(" | ")} (${err})`,
    );
  });
}

/** One pod's engine: stores chained blocks of its own prompt, evicts some, as vLLM reports it. */
class Engine {
  readonly pod: string;
  seq = 0n;
  hashes: bigint[] = [];
  constructor(pod: string) {
    this.pod = pod;
  }
  tokens(block: number): number[] {
    return Array.from({ length: BS }, (_, i) => this.pod.charCodeAt(0) * 10_000 + block * BS + i);
  }
  async publish(
    events: NonNullable<Parameters<typeof make<typeof KvEventBatchSchema>>[1]>["events"],
  ): Promise<void> {
    const batch = make(KvEventBatchSchema, {
      model: MODEL,
      pod: this.pod,
      seq: this.seq++,
      tsSeconds: Date.now() / 1000,
      receivedUnixMs: BigInt(Date.now()),
      events,
    });
    await jetStreamClient(nc).publish(
      subjects().kvEvents(MODEL, this.pod),
      encode(KvEventBatchSchema, batch),
      {
        headers: messageHeaders(KvEventBatchSchema),
      },
    );
  }
  async store(n: number): Promise<void> {
    const from = this.hashes.length;
    const hashes = Array.from({ length: n }, (_, i) =>
      BigInt(`0x${this.pod.charCodeAt(0).toString(16)}00${from + i + 1}`),
    );
    await this.publish([
      {
        event: {
          case: "blockStored",
          value: make(BlockStoredSchema, {
            blockHashes: hashes,
            parentBlockHash: from > 0 ? this.hashes[from - 1] : undefined,
            tokenIds: Array.from({ length: n }, (_, i) => this.tokens(from + i)).flat(),
            blockSize: BS,
            tier: StorageTier.GPU,
          }),
        },
      },
    ]);
    this.hashes.push(...hashes);
  }
  async evictLast(n: number): Promise<void> {
    const gone = this.hashes.splice(this.hashes.length - n, n);
    await this.publish([
      { event: { case: "blockRemoved", value: { blockHashes: gone, tier: StorageTier.GPU } as never } },
    ]);
  }
}

describe("index replica", () => {
  it("index replica - converges with kv-index after a restart of either (stream purged: bootstrap from Redis)", async () => {
    const a = new Engine("a");
    const b = new Engine("b");
    let k = await kvIndex();
    const first = replica(false);
    await a.store(4);
    await b.store(2);
    await a.evictLast(1);
    await b.store(3);
    await converged(first.index);

    // The replica answers a prefix lookup in process, like kv-index does.
    const prompt = Array.from({ length: 3 }, (_, i) => a.tokens(i)).flat();
    expect(requestKeys(MODEL, Uint32Array.from(prompt), { blockSize: BS })).toHaveLength(3);
    await waitFor(() => first.ready);
    expect(
      first.lookup({
        model: MODEL,
        lora: undefined,
        tokens: prompt,
        prompt: { kind: "none" },
        candidatePods: [],
        cacheSalt: "",
      }).pods,
    ).toEqual([{ pod: "a", gpuBlocks: 3, cpuBlocks: 3, matchedBlocks: 3 }]);

    // Scorer restart, with the stream's history gone: only the Redis copy has the old blocks.
    await first.stop();
    await jetstreamManager(nc).then((jsm) => jsm.streams.purge(STREAMS.kvEvents));
    await a.store(2);
    const second = replica(true);
    await converged(second.index);
    // Engine b sent nothing since the purge: all it holds came from the Redis copy.
    expect((await second.index.snapshot(MODEL, "b")).copies.gpu.size).toBe(5);

    // kv-index restart: it misses events while down; a scorer started meanwhile copies the stale
    // Redis view and reads the rest from the stream; all three agree once kv-index is back.
    await k.stop();
    await b.evictLast(2);
    await a.store(1);
    const third = replica(true);
    k = await kvIndex();
    await converged(second.index, third.index);
    expect(
      await second.index.lookup(MODEL, requestKeys(MODEL, Uint32Array.from(prompt), { blockSize: BS })),
    ).toEqual(await redisView.lookup(MODEL, requestKeys(MODEL, Uint32Array.from(prompt), { blockSize: BS })));
  }, 90_000);

  it("index replica - memory is bounded per engine; new blocks past the bound are dropped and counted", async () => {
    const registry = new Registry();
    const bounded = startIndexReplica(nc, {
      prefix: "inferd",
      blockSize: BS,
      maxBlocksPerEngine: 5,
      bootstrapFrom: undefined,
      logger,
      registry,
    });
    cleanups.push(() => bounded.stop());
    const c = new Engine("c");
    await c.store(4);
    await c.store(4);
    await waitFor(
      async () =>
        (await registry.getSingleMetric("inferd_scorer_index_replica_dropped_blocks_total")?.get())?.values[0]
          ?.value === 3,
    );
    expect((await bounded.index.snapshot(MODEL, "c")).copies.gpu.size).toBe(5);
    // Evictions make room again (of the 4 evicted only 1 was indexed).
    await c.evictLast(4);
    await waitFor(async () => (await bounded.index.snapshot(MODEL, "c")).copies.gpu.size === 4);
    await c.store(1);
    await waitFor(async () => (await bounded.index.snapshot(MODEL, "c")).copies.gpu.size === 5);
  }, 60_000);
});
