import { type NatsClusterHandle, startNats, startNatsCluster } from "@inferd/testkit";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectNats,
  createStreamIfMissing,
  DECISIONS_STREAM_LIMITS,
  decisionsStreamConfig,
  ensureStream,
  jetStreamClient,
  jetstreamManager,
  limitsConfig,
  type NatsConnection,
  openKv,
  REQUESTS_STREAM_LIMITS,
  requestsStreamConfig,
  watchEndpoints,
} from "../src/index.ts";
import { replicasToApply } from "../src/replicas.ts";

describe("bus - stream and bucket replicas", () => {
  it("limitsConfig carries replicas as num_replicas (1 by default) and refuses a non-positive count", () => {
    expect(limitsConfig(REQUESTS_STREAM_LIMITS).num_replicas).toBe(1);
    expect(limitsConfig({ ...REQUESTS_STREAM_LIMITS, replicas: 3 }).num_replicas).toBe(3);
    expect(() => limitsConfig({ ...REQUESTS_STREAM_LIMITS, replicas: 0 })).toThrow(/limits/);
    expect(() => limitsConfig({ ...REQUESTS_STREAM_LIMITS, replicas: 1.5 })).toThrow(/limits/);
  });

  it("replicasToApply raises, never lowers", () => {
    expect(replicasToApply(1, 3)).toBe(3);
    expect(replicasToApply(3, 1)).toBe(3);
    expect(replicasToApply(undefined, undefined)).toBe(1);
    expect(replicasToApply(0, 3)).toBe(3);
  });
});

/** A real 3-node JetStream cluster: replicas above 1 exist only there. */
describe("bus - replicas on a 3-node NATS cluster", () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;
  const replicasOf = async (stream: string) =>
    (await (await jetstreamManager(nc)).streams.info(stream)).config.num_replicas;
  beforeAll(async () => {
    cluster = await startNatsCluster({ size: 3 });
    nc = await connectNats({ servers: cluster.urls, name: "replicas-test" });
  }, 60_000);
  afterAll(async () => {
    await nc?.close();
    await cluster?.dispose();
  });

  it("creates R3 contract streams and raises an R1 one an older start created, never lowering it", async () => {
    const limits = { ...REQUESTS_STREAM_LIMITS, replicas: 3 };
    expect(await createStreamIfMissing(nc, requestsStreamConfig("fresh", limits))).toBe("created");
    expect(await replicasOf("FRESH_REQUESTS")).toBe(3);

    // The upgrade from a single NATS: the stream exists with 1 replica and holds messages.
    expect(await createStreamIfMissing(nc, requestsStreamConfig("old"))).toBe("created");
    expect(await replicasOf("OLD_REQUESTS")).toBe(1);
    await jetStreamClient(nc).publish("old.v1.requests.m", new Uint8Array([1]));
    expect(await createStreamIfMissing(nc, requestsStreamConfig("old", limits))).toBe("replicas-raised");
    const info = await (await jetstreamManager(nc)).streams.info("OLD_REQUESTS");
    expect(info.config.num_replicas).toBe(3);
    expect(info.state.messages).toBe(1);
    // A service still at the default 1 leaves it at 3.
    expect(await createStreamIfMissing(nc, requestsStreamConfig("old"))).toBe("exists");
    expect(await replicasOf("OLD_REQUESTS")).toBe(3);
  });

  it("ensureStream raises replicas like any other update, and a config with fewer does not lower them", async () => {
    await ensureStream(nc, decisionsStreamConfig("ens"));
    expect(await replicasOf("ENS_DECISIONS")).toBe(1);
    await ensureStream(nc, decisionsStreamConfig("ens", { ...DECISIONS_STREAM_LIMITS, replicas: 3 }));
    expect(await replicasOf("ENS_DECISIONS")).toBe(3);
    await ensureStream(nc, decisionsStreamConfig("ens"));
    expect(await replicasOf("ENS_DECISIONS")).toBe(3);
  });

  it("openKv and watchEndpoints create R3 buckets and raise an existing R1 bucket", async () => {
    await openKv(nc, "NEW_BUCKET", { history: 1, replicas: 3 });
    expect((await (await new Kvm(nc).open("NEW_BUCKET")).status()).replicas).toBe(3);
    const watched = await watchEndpoints(nc, { prefix: "watched", replicas: 3 });
    watched.stop();
    expect(await replicasOf("KV_WATCHED_ENDPOINTS")).toBe(3);

    const old = await openKv(nc, "OLD_BUCKET", { history: 1 });
    await old.put("k", new Uint8Array([7]));
    expect(await replicasOf("KV_OLD_BUCKET")).toBe(1);
    const raised = await openKv(nc, "OLD_BUCKET", { history: 1, replicas: 3 });
    expect(await replicasOf("KV_OLD_BUCKET")).toBe(3);
    expect([...((await raised.get("k"))?.value ?? [])]).toEqual([7]);
  });
});

describe("bus - replicas on a single NATS server", () => {
  it("refuses to raise a stream or bucket above 1 replica, as it refuses to create one", async () => {
    const server = await startNats();
    const nc = await connectNats({ servers: server.url, name: "replicas-single" });
    try {
      const r3 = { ...REQUESTS_STREAM_LIMITS, replicas: 3 };
      await expect(createStreamIfMissing(nc, requestsStreamConfig("one", r3))).rejects.toThrow(
        /non-clustered mode/,
      );
      await createStreamIfMissing(nc, requestsStreamConfig("one"));
      await expect(createStreamIfMissing(nc, requestsStreamConfig("one", r3))).rejects.toThrow(
        /ONE_REQUESTS: replicas 3 need a NATS cluster/,
      );
      await openKv(nc, "ONE_BUCKET", { history: 1 });
      await expect(openKv(nc, "ONE_BUCKET", { history: 1, replicas: 3 })).rejects.toThrow(
        /need a NATS cluster/,
      );
      expect((await (await jetstreamManager(nc)).streams.info("ONE_REQUESTS")).config.num_replicas).toBe(1);
    } finally {
      await nc.close();
      await server.dispose();
    }
  }, 60_000);
});
