import { join } from "node:path";
import {
  freePort,
  type ManagedProcess,
  type NatsServerHandle,
  startNats,
  startProcess,
  waitFor,
} from "@inferd/testkit";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, putReplicas, readDecisions } from "../helpers.ts";

const MAIN = join(import.meta.dirname, "../../src/main.ts");
const MODEL = "m";

interface Replica {
  id: string;
  port: number;
  process: ManagedProcess;
}

async function isLeader(r: Replica): Promise<boolean> {
  const res = await request(`http://127.0.0.1:${r.port}/metrics`);
  return /inferd_autoscaler_leader\{[^}]*\} 1/.test(await res.body.text());
}

describe("autoscaler - leader lease in a JetStream KV bucket", () => {
  let nats: NatsServerHandle;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    nats = await startNats();
    const nc = await connect(nats.url);
    await putReplicas(nc, MODEL, "default", 1);
    await nc.close();
    for (const id of ["as-a", "as-b"]) {
      const port = await freePort();
      const process_ = startProcess({
        command: process.execPath,
        args: [MAIN],
        env: {
          ...process.env,
          INFERD_AUTOSCALER_NATS_URL: nats.url,
          INFERD_AUTOSCALER_OPS_PORT: String(port),
          INFERD_AUTOSCALER_REPLICA_ID: id,
          INFERD_AUTOSCALER_INTERVAL_MS: "200",
          INFERD_AUTOSCALER_LEASE_TTL_MS: "2000",
          INFERD_AUTOSCALER_POOLS: JSON.stringify([{ model: MODEL, pool: "default", minReplicas: 2 }]),
        },
      });
      replicas.push({ id, port, process: process_ });
      await waitFor(() => request(`http://127.0.0.1:${port}/readyz`).then((r) => r.statusCode === 200), {
        timeoutMs: 20_000,
        message: `${id} did not get ready:\n${process_.output()}`,
      });
    }
  });

  afterAll(async () => {
    for (const r of replicas) await r.process.stop();
    await nats?.dispose();
  });

  it("lets one replica decide, and the standby take over within a few seconds when it is killed", async () => {
    const leaders = await Promise.all(replicas.map(isLeader));
    expect(leaders.filter(Boolean)).toHaveLength(1);
    const leader = replicas[leaders.indexOf(true)]!;
    const standby = replicas[leaders.indexOf(false)]!;
    const nc = await connect(nats.url);
    try {
      // The leader publishes the pool's decision; the standby decides nothing.
      await waitFor(async () => (await readDecisions(nc)).length === 1, { timeoutMs: 10_000 });
      await waitFor(() => leader.process.output().includes("scale up 1 -> 2: minReplicas is 2"), {
        timeoutMs: 10_000,
        message: leader.process.output(),
      });
      expect(standby.process.output()).not.toContain("scale up 1 -> 2");

      await leader.process.kill();
      // The dead leader's lease expires after its TTL (2 s); the standby's next try gets it.
      await waitFor(() => isLeader(standby), { timeoutMs: 15_000, message: standby.process.output() });
      // The new leader decides for the pool: the replicas asked for are still not there.
      await waitFor(async () => (await readDecisions(nc)).length === 2, { timeoutMs: 10_000 });
      expect(standby.process.output()).toContain("acquired the leader lease");
      // The decision can reach the stream before its log line comes through the stdout pipe.
      await waitFor(() => standby.process.output().includes("scale up 1 -> 2: minReplicas is 2"), {
        timeoutMs: 10_000,
        message: standby.process.output(),
      });
    } finally {
      await nc.close();
    }
  });
});
