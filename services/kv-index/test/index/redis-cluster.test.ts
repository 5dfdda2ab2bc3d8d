import { RedisBlockIndex } from "@inferd/block-index";
import { describeIndexContract } from "@inferd/block-index/contract";
import { type RedisClusterHandle, startRedisCluster } from "@inferd/testkit";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";

let cluster: RedisClusterHandle;
beforeAll(async () => {
  // Three shards without replicas: the key layout is what is under test, not failover.
  cluster = await startRedisCluster({ replicas: 0 });
}, 60_000);
afterAll(async () => {
  await cluster?.dispose();
});

function connect(): Cluster {
  return new Cluster(
    cluster.seeds.map((n) => {
      const [host, port] = n.split(":");
      return { host: host!, port: Number(port) };
    }),
  );
}

// The whole contract, on a 3-shard Redis Cluster: every script and pipeline of a model stays
// in the model's hash slot.
describeIndexContract("redis cluster", async () => {
  const redis = connect();
  const index = new RedisBlockIndex(redis);
  await index.reset();
  return { index, cleanup: () => index.close() };
});

it("kv-index - redis cluster spreads models over shards", async () => {
  const index = new RedisBlockIndex(connect());
  try {
    await index.reset();
    const models = Array.from({ length: 12 }, (_, i) => `model-${i}`);
    for (const m of models) await index.add(m, "pod", "gpu", [1n], [2n]);
    for (const m of models)
      expect(await index.lookup(m, [2n])).toEqual([{ engine: "pod", gpuBlocks: 1, anyBlocks: 1 }]);
    expect((await index.models()).sort()).toEqual([...models].sort());
    await index.reset();
    expect(await index.models()).toEqual([]);
  } finally {
    await index.close();
  }
});
