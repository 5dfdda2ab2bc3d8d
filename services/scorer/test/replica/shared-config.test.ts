import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BlockIndex, createIndex, type EngineSnapshot, InMemoryBlockIndex } from "@inferd/block-index";
import {
  connectNats,
  encodeMessage,
  jetStreamClient,
  messageHeaders,
  type NatsConnection,
} from "@inferd/bus";
import { requestKeys, vllmRules } from "@inferd/kv-blocks";
import { BlockStoredSchema, KvEventBatchSchema, make, StorageTier, subjects } from "@inferd/protocol";
import {
  type ManagedProcess,
  type NatsServerHandle,
  type RedisServerHandle,
  startNats,
  startRedis,
  startRedisCluster,
  waitFor,
} from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapReplica } from "../../src/replica/bootstrap.ts";
import { type RunningScorer, runScorer } from "../../src/run.ts";
import { quietLogger, startKvIndexProcess, testConfig } from "../adapters/helpers.ts";

/**
 * The scorer's index replica takes kv-index's Redis keys (password from a file here) and its
 * per-model vLLM versions (the shared config fragments): against a real kv-index process and a
 * redis-server that requires a password, a model pinned to vLLM 0.11 (LoRA blocks keyed by the
 * adapter's int id, events without extra_keys) gets the same request keys in the replica as in
 * kv-index's Redis index, both for what the bootstrap copied and for what the replica indexed itself.
 */
const MODEL = "acme/old-model";
const VERSIONS = JSON.stringify({ [MODEL]: "0.11.0" });
const PASSWORD = "replica-s3cret";
const BS = 16;
const s = subjects();

const tokens = (n: number, base: number) => Array.from({ length: n }, (_, i) => base + i);

async function publish(nc: NatsConnection, pod: string, seq: bigint, base: number): Promise<void> {
  const batch = make(KvEventBatchSchema, {
    model: MODEL,
    pod,
    seq,
    tsSeconds: 1,
    receivedUnixMs: BigInt(Date.now()),
    events: [
      {
        event: {
          case: "blockStored",
          value: make(BlockStoredSchema, {
            blockHashes: [1n, 2n, 3n, 4n].map((h) => h + BigInt(base)),
            tokenIds: tokens(4 * BS, base),
            blockSize: BS,
            tier: StorageTier.GPU,
            loraName: "sql",
            loraId: 7n,
          }),
        },
      },
    ] as never,
  });
  await jetStreamClient(nc).publish(s.kvEvents(MODEL, pod), encodeMessage(KvEventBatchSchema, batch), {
    headers: messageHeaders(KvEventBatchSchema),
  });
}

const show = (snap: EngineSnapshot) =>
  JSON.stringify({
    e2r: [...snap.engineToRequest].map(([e, r]) => `${e}:${r}`).sort(),
    gpu: [...snap.copies.gpu].map(([r, n]) => `${r}x${n}`).sort(),
  });

describe("scorer index replica - kv-index's Redis credentials and per-model vLLM versions", () => {
  let nats: NatsServerHandle;
  let redis: RedisServerHandle;
  let nc: NatsConnection;
  let kvIndex: ManagedProcess;
  let store: BlockIndex;
  let scorer: RunningScorer | undefined;
  let passwordFile: string;

  beforeAll(async () => {
    [nats, redis] = await Promise.all([
      startNats({ jetstream: true }),
      startRedis({ extraArgs: ["--requirepass", PASSWORD] }),
    ]);
    nc = await connectNats({ servers: nats.url, name: "replica-test" });
    passwordFile = join(mkdtempSync(join(tmpdir(), "scorer-redis-")), "password");
    writeFileSync(passwordFile, `${PASSWORD}\n`);
    kvIndex = await startKvIndexProcess(nats.url, {
      INGEST: "false",
      INDEX_BACKEND: "redis",
      REDIS_URL: redis.url,
      REDIS_PASSWORD_FILE: passwordFile,
      VLLM_VERSIONS: VERSIONS,
      VLLM_VERSION_DETECT: "false",
    });
    store = createIndex(
      { backend: "redis", redisUrl: redis.url, credentials: { password: PASSWORD } },
      "write",
    );
  });

  afterAll(async () => {
    await scorer?.stop();
    await store?.close();
    await kvIndex?.stop();
    await nc?.close();
    await Promise.all([nats?.dispose(), redis?.dispose()]);
  });

  it("bootstraps through the password, then indexes a 0.11 model's LoRA blocks with kv-index's keys", async () => {
    // Blocks kv-index indexed before the scorer starts: the replica must copy them from Redis.
    // kv-index creates the stream at start: publish once it is there.
    await waitFor(
      () =>
        publish(nc, "pod-before", 0n, 1000).then(
          () => true,
          () => false,
        ),
      { timeoutMs: 60_000, intervalMs: 200, message: `kv-index up (${kvIndex.output().slice(-400)})` },
    );
    await waitFor(async () => (await store.checkpoint(MODEL, "pod-before")) !== undefined, {
      timeoutMs: 60_000,
      message: "kv-index indexes the first batch",
    });
    scorer = await runScorer(
      testConfig(nats.url, {
        kvLookup: "true",
        indexReplica: "true",
        redisUrl: redis.url,
        redisPasswordFile: passwordFile,
        vllmVersions: VERSIONS,
        vllmVersionDetect: "false",
      }),
      { logger: quietLogger() },
    );
    const replica = scorer.replica!;
    await waitFor(() => replica.ready, { timeoutMs: 60_000, message: "replica caught up" });
    const applied = async () =>
      (await scorer!.registry.getSingleMetric("inferd_scorer_index_replica_batches_total")?.get())?.values
        .filter((v) => v.labels.result === "applied")
        .reduce((n, v) => n + v.value, 0) ?? 0;
    // Copied from Redis (the password worked), not replayed from the stream.
    expect(await applied()).toBe(0);
    expect(show(await replica.index.snapshot(MODEL, "pod-before"))).toBe(
      show(await store.snapshot(MODEL, "pod-before")),
    );

    // A batch both index on their own: the replica must derive the same keys as kv-index.
    await publish(nc, "pod-after", 0n, 5000);
    await waitFor(async () => (await store.engines(MODEL)).includes("pod-after"), {
      timeoutMs: 60_000,
      message: "kv-index indexes the second batch",
    });
    await waitFor(async () => (await applied()) >= 1, { timeoutMs: 60_000, message: "replica applies it" });
    const mine = await replica.index.snapshot(MODEL, "pod-after");
    expect(show(mine)).toBe(show(await store.snapshot(MODEL, "pod-after")));
    // vLLM 0.11's keys (the adapter's int id), which current vLLM's rules would not give.
    const old = requestKeys(MODEL, tokens(4 * BS, 5000), {
      blockSize: BS,
      loraName: "sql",
      loraId: 7,
      rules: vllmRules("0.11.0"),
    });
    const current = requestKeys(MODEL, tokens(4 * BS, 5000), { blockSize: BS, loraName: "sql", loraId: 7 });
    expect(old).not.toEqual(current);
    expect([...mine.engineToRequest.values()].sort()).toEqual([...old].sort());
  });
});

describe("scorer index replica - bootstrap from a Redis Cluster with a password (kv-index's keys)", () => {
  it("copies every engine of a cluster-backed index, as from a standalone one", async () => {
    const cluster = await startRedisCluster({ password: PASSWORD });
    const link = {
      backend: "redis" as const,
      redisClusterNodes: [...cluster.seeds],
      credentials: { password: PASSWORD },
    };
    const source = createIndex(link, "write");
    try {
      // Two models: their keys live in different hash slots (one model per slot).
      for (const [model, base] of [
        [MODEL, 10n],
        ["acme/other", 500n],
      ] as const)
        await source.apply(
          model,
          "pod-a",
          [{ kind: "add", tier: "gpu", engineKeys: [base, base + 1n], requestKeys: [base + 2n, base + 3n] }],
          { checkpoint: base, meta: "" },
        );
      const replica = new InMemoryBlockIndex();
      const read = createIndex(link, "read", 5_000);
      // The fail-fast read link refuses commands until it has connected (the replica retries too).
      const r = await waitFor(() => bootstrapReplica(read, replica).catch(() => undefined), {
        timeoutMs: 30_000,
        message: "bootstrap from the cluster",
      });
      await read.close();
      expect(r).toEqual({ engines: 2, startSeq: 11n });
      for (const model of [MODEL, "acme/other"])
        expect(show(await replica.snapshot(model, "pod-a"))).toBe(
          show(await source.snapshot(model, "pod-a")),
        );
    } finally {
      await source.close();
      await cluster.dispose();
    }
  }, 120_000);
});
