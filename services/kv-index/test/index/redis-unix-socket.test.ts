import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createIndex } from "@inferd/block-index";
import { startRedis } from "@inferd/testkit";
import { describe, expect, it, onTestFinished } from "vitest";

/**
 * `redisUrl` may name a unix socket (`/run/redis/redis.sock`) when Redis runs on the same host or
 * in the same pod: no TCP stack per round trip (see the README's lookup figures). Both links, the
 * indexer's (write) and the lookups' (read), against a real redis-server (its TCP port unused here).
 */
describe("kv-index - Redis over a unix socket", () => {
  it("redisUrl as a socket path: writes and lookups", async () => {
    const socket = join(mkdtempSync(join(tmpdir(), "kvi-sock-")), "redis.sock");
    const r = await startRedis({ extraArgs: ["--unixsocket", socket, "--unixsocketperm", "700"] });
    onTestFinished(() => r.dispose());
    const write = createIndex({ backend: "redis", redisUrl: socket }, "write");
    const read = createIndex({ backend: "redis", redisUrl: socket }, "read", 2_000);
    onTestFinished(async () => {
      await write.close();
      await read.close();
    });
    await write.add("m", "pod-a", "gpu", [1n, 2n], [11n, 12n]);
    expect(await read.lookup("m", [11n, 12n, 13n])).toEqual([
      { engine: "pod-a", gpuBlocks: 2, anyBlocks: 2 },
    ]);
  });
});
