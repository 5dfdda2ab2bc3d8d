import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BlockIndex, createIndex, type IndexConfig } from "@inferd/block-index";
import { makeTestCertificates, startRedis, startRedisCluster } from "@inferd/testkit";
import { describe, expect, it, onTestFinished } from "vitest";

/**
 * kv-index's Redis link with a password, an ACL user and TLS (client certificate verified),
 * standalone and cluster, against real redis-server processes. A wrong or missing credential
 * is refused by the server.
 */
const MODEL = "Qwen/Qwen3-32B";

function index(config: IndexConfig, role: "write" | "read" = "write"): BlockIndex {
  const i = createIndex(config, role, 2_000);
  onTestFinished(() => i.close());
  return i;
}

/** Writes one block and reads it back through the index. */
async function roundTrip(i: BlockIndex): Promise<void> {
  await i.add(MODEL, "pod-a", "gpu", [7n], [0xabcdefn]);
  expect(await i.engines(MODEL)).toEqual(["pod-a"]);
}

describe("kv-index - Redis credentials against real redis-server", () => {
  it("password (requirepass)", async () => {
    const r = await startRedis({ extraArgs: ["--requirepass", "s3cret"] });
    onTestFinished(() => r.dispose());
    await roundTrip(index({ backend: "redis", redisUrl: r.url, credentials: { password: "s3cret" } }));
    await expect(
      index({ backend: "redis", redisUrl: r.url, credentials: { password: "wrong" } }, "read").engines(MODEL),
    ).rejects.toThrow();
    await expect(index({ backend: "redis", redisUrl: r.url }, "read").engines(MODEL)).rejects.toThrow();
  });

  it("ACL user", async () => {
    const aclFile = join(mkdtempSync(join(tmpdir(), "kvi-acl-")), "users.acl");
    writeFileSync(aclFile, "user default off\nuser kvi on >kvipw ~* +@all\n");
    const r = await startRedis({ extraArgs: ["--aclfile", aclFile] });
    onTestFinished(() => r.dispose());
    await roundTrip(
      index({ backend: "redis", redisUrl: r.url, credentials: { username: "kvi", password: "kvipw" } }),
    );
    await expect(
      index({ backend: "redis", redisUrl: r.url, credentials: { password: "kvipw" } }, "read").engines(MODEL),
    ).rejects.toThrow();
  });

  it("TLS with a verified client certificate", async () => {
    const c = makeTestCertificates();
    const r = await startRedis({
      tls: { certFile: c.serverCertFile, keyFile: c.serverKeyFile, caFile: c.caFile },
    });
    onTestFinished(() => r.dispose());
    const { readFileSync } = await import("node:fs");
    const tls = {
      ca: readFileSync(c.caFile),
      cert: readFileSync(c.clientCertFile),
      key: readFileSync(c.clientKeyFile),
    };
    await roundTrip(index({ backend: "redis", redisUrl: r.url, credentials: { tls } }));
    // No client certificate: the server refuses the handshake.
    await expect(
      index({ backend: "redis", redisUrl: r.url, credentials: { tls: { ca: tls.ca } } }, "read").engines(
        MODEL,
      ),
    ).rejects.toThrow();
  });

  it("cluster mode with a password", async () => {
    const cluster = await startRedisCluster({ replicas: 0, password: "clusterpw" });
    onTestFinished(() => cluster.dispose());
    await roundTrip(
      index({
        backend: "redis",
        redisClusterNodes: [...cluster.seeds],
        credentials: { password: "clusterpw" },
      }),
    );
  }, 60_000);
});

describe("kv-index - credentials from its config keys", () => {
  it("connects to a NATS with a user and a Redis with a password, set by config keys", async () => {
    const { startNats } = await import("@inferd/testkit");
    const { startTestKvIndex } = await import("../support/stack.ts");
    const nats = await startNats({ extraArgs: ["--user", "kvi", "--pass", "natspw"] });
    onTestFinished(() => nats.dispose());
    const redis = await startRedis({ extraArgs: ["--requirepass", "redispw"] });
    onTestFinished(() => redis.dispose());
    const kvi = await startTestKvIndex({
      natsUrl: nats.url,
      natsUser: "kvi",
      natsPassword: "natspw",
      redisUrl: redis.url,
      redisPassword: "redispw",
      zmqMode: "connect",
    });
    onTestFinished(() => kvi.stop());
    const ready = await fetch(`${kvi.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await kvi.index!.engines(MODEL)).toEqual([]);
  }, 60_000);
});
