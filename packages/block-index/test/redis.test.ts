import { type RedisServerHandle, startRedis } from "@inferd/testkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeIndexContract } from "../src/contract.ts";
import { keyHex, modelPrefix, prefixFromBitmaps, RedisBlockIndex } from "../src/redis.ts";

let server: RedisServerHandle;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.dispose();
});

let db = 0;
describeIndexContract("redis", async () => {
  // Each case gets its own logical database, flushed first: a fresh, empty index.
  const redis = new Redis(server.url, { db: db++ % 16, lazyConnect: false });
  await redis.flushdb();
  const index = new RedisBlockIndex(redis);
  return { index, cleanup: () => index.close() };
});

describe("block-index - redis backend", () => {
  it("keeps every key of a model in one hash slot and leaves foreign keys alone", async () => {
    const redis = new Redis(server.url, { db: 15 });
    try {
      await redis.flushdb();
      await redis.set("unrelated", "1");
      const index = new RedisBlockIndex(redis);
      await index.add("Qwen/Qwen3-32B", "pod-a", "gpu", [7n], [0xffff_ffff_ffff_fff1n]);
      const keys = (await redis.keys("kvi:{*")).sort();
      const p = modelPrefix("Qwen/Qwen3-32B");
      expect(p).toBe("kvi:{Qwen=2FQwen3-32B}:");
      expect(keys.every((k) => k.startsWith(p))).toBe(true);
      expect(keys).toContain(`${p}b:${keyHex(0xffff_ffff_ffff_fff1n)}`);
      await index.reset();
      expect(await redis.keys("kvi:*")).toEqual([]);
      expect(await redis.get("unrelated")).toBe("1");
    } finally {
      redis.disconnect();
    }
  });

  it("evicting the last copy deletes the block's keys (memory stays bounded)", async () => {
    const redis = new Redis(server.url, { db: 14 });
    try {
      await redis.flushdb();
      const index = new RedisBlockIndex(redis);
      const eks = Array.from({ length: 100 }, (_, i) => BigInt(i + 1));
      const rks = eks.map((k) => k * 1000n);
      await index.add("m", "a", "gpu", eks, rks);
      await index.add("m", "a", "cpu", eks, rks);
      await index.evict("m", "a", "gpu", eks);
      await index.evict("m", "a", "cpu", eks);
      const left = (await redis.keys("kvi:{m}:*")).filter((k) => /:(b|h):/.test(k));
      expect(left).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it("a lookup replica sees engine ids reassigned after a forget", async () => {
    const writer = new Redis(server.url, { db: 13 });
    const reader = new Redis(server.url, { db: 13 });
    try {
      await writer.flushdb();
      const w = new RedisBlockIndex(writer);
      const r = new RedisBlockIndex(reader);
      await w.add("m", "a", "gpu", null, [1n]);
      expect(await r.lookup("m", [1n])).toEqual([{ engine: "a", gpuBlocks: 1, anyBlocks: 1 }]);
      await w.forget("m", "a");
      await w.add("m", "b", "gpu", null, [1n]);
      expect(await r.lookup("m", [1n])).toEqual([{ engine: "b", gpuBlocks: 1, anyBlocks: 1 }]);
    } finally {
      writer.disconnect();
      reader.disconnect();
    }
  });

  it("max entries per engine drops new blocks only", async () => {
    const redis = new Redis(server.url, { db: 12 });
    try {
      await redis.flushdb();
      const drops: number[] = [];
      const index = new RedisBlockIndex(redis, {
        maxEntriesPerEngine: 2,
        onDropped: (_m, _e, n) => drops.push(n),
      });
      await index.add("m", "a", "gpu", [1n, 2n, 3n], [10n, 20n, 30n]);
      await index.add("m", "a", "cpu", [1n], [10n]);
      await index.add("m", "b", "gpu", null, [30n]);
      expect(drops).toEqual([1]);
      const snap = await index.snapshot("m", "a");
      expect(snap.copies.gpu).toEqual(
        new Map([
          [10n, 1],
          [20n, 1],
        ]),
      );
      expect(snap.copies.cpu).toEqual(new Map([[10n, 1]]));
      expect(await index.lookup("m", [30n])).toEqual([{ engine: "b", gpuBlocks: 1, anyBlocks: 1 }]);
    } finally {
      redis.disconnect();
    }
  });

  it("prefixFromBitmaps reads Redis SETBIT bit order", () => {
    // id 0 on GPU (bit 0), id 1 on CPU only (bit 3), id 4 on both (bits 8, 9).
    const first = Uint8Array.from([0b1001_0000, 0b1100_0000]);
    const second = Uint8Array.from([0b1000_0000, 0b0100_0000]);
    const names = new Map([
      [0, "a"],
      [1, "b"],
      [4, "c"],
    ]);
    expect(prefixFromBitmaps([first, second, null], names)).toEqual([
      { engine: "a", gpuBlocks: 2, anyBlocks: 2 },
      { engine: "b", gpuBlocks: 0, anyBlocks: 1 },
      { engine: "c", gpuBlocks: 1, anyBlocks: 2 },
    ]);
  });

  it("a lookup over bitmaps of different widths and a prompt of 300 blocks", async () => {
    const redis = new Redis(server.url, { db: 13 });
    try {
      await redis.flushdb();
      const index = new RedisBlockIndex(redis);
      // Ten engines (ids 0..9): e0's bitmaps are 1 byte long, e9's 3 bytes (bits 18, 19).
      const prompt = Array.from({ length: 300 }, (_, i) => BigInt(i + 1) * 7919n);
      await index.add("m", "e0", "gpu", null, prompt);
      for (let e = 1; e < 9; e++) await index.add("m", `e${e}`, "gpu", null, [999_999n]);
      await index.add("m", "e9", "cpu", null, prompt.slice(0, 200));
      const byEngine = (ms: { engine: string }[]) => [...ms].sort((a, b) => a.engine.localeCompare(b.engine));
      expect(byEngine(await index.lookup("m", prompt))).toEqual([
        { engine: "e0", gpuBlocks: 300, anyBlocks: 300 },
        { engine: "e9", gpuBlocks: 0, anyBlocks: 200 },
      ]);
      const gap = [...prompt.slice(0, 2), 123n, ...prompt.slice(3)];
      expect(byEngine(await index.lookup("m", gap))).toEqual([
        { engine: "e0", gpuBlocks: 2, anyBlocks: 2 },
        { engine: "e9", gpuBlocks: 0, anyBlocks: 2 },
      ]);
    } finally {
      redis.disconnect();
    }
  });
});
