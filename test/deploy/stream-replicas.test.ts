import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connectNats,
  createStreamIfMissing,
  decisionsStreamConfig,
  jetstreamManager,
  type NatsConnection,
  openKv,
  requestsStreamConfig,
} from "@inferd/bus";
import {
  freePort,
  type ManagedProcess,
  type NatsClusterHandle,
  startNatsCluster,
  startProcess,
  waitFor,
} from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { named, REPO, template } from "./helm.ts";

/** What each service creates (stream names; KV buckets are streams `KV_<bucket>`), `P` its prefix. */
const CREATES: Record<string, string[]> = {
  gateway: ["P_REQUESTS", "KV_P_ENDPOINTS"],
  scorer: ["P_REQUESTS", "KV_P_ENDPOINTS"],
  "kv-index": ["P_KV_EVENTS", "KV_P_ENDPOINTS"],
  autoscaler: ["P_REQUESTS", "P_DECISIONS", "KV_P_ENDPOINTS", "KV_P_AUTOSCALER_LEASE"],
  deployer: ["P_DECISIONS", "KV_P_ENDPOINTS"],
};

/** The services whose streams and buckets already exist with 1 replica (an upgrade from one NATS). */
const UPGRADED = new Set(["autoscaler", "deployer"]);

/** The config the chart renders with `nats.replicas: 3`, made runnable on loopback. */
async function runnable(
  rendered: Record<string, unknown>,
  service: string,
  natsUrl: string,
): Promise<{ config: Record<string, unknown>; readyz: string }> {
  const port = await freePort();
  const config: Record<string, unknown> = { ...rendered, natsUrl, subjectPrefix: prefixOf(service) };
  switch (service) {
    case "gateway":
      Object.assign(config, { host: "127.0.0.1", port });
      break;
    case "scorer":
      Object.assign(config, { opsHost: "127.0.0.1", opsPort: port, tokenizer: "estimate" });
      break;
    case "kv-index":
      Object.assign(config, {
        httpHost: "127.0.0.1",
        httpPort: port,
        zmqBindEndpoint: `tcp://127.0.0.1:${await freePort()}`,
        indexBackend: "memory",
      });
      break;
    case "deployer":
      // The Kubernetes driver and the chart's pool are install.test.ts's; here only what it creates
      // on NATS matters.
      Object.assign(config, { opsPort: port, driver: "local", pools: [] });
      break;
    default:
      Object.assign(config, { opsPort: port });
  }
  return { config, readyz: `http://127.0.0.1:${port}/readyz` };
}

const prefixOf = (service: string) => `r3${service.replace("-", "")}`;

/**
 * Every inferd service, run with the config the chart renders for `nats.replicas: 3` against a
 * real 3-node JetStream cluster, each with its own subject prefix so it creates its streams and
 * buckets itself: every one of them must have 3 replicas, and ones an R1 install left are raised.
 */
describe("deploy - streamReplicas on a 3-node NATS cluster", () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;
  const procs: ManagedProcess[] = [];
  beforeAll(async () => {
    cluster = await startNatsCluster({ size: 3 });
    nc = await connectNats({ servers: cluster.urls, name: "stream-replicas-test" });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await nc?.close();
    await cluster?.dispose();
  });

  it("every stream and bucket every service creates has 3 replicas", async () => {
    // With the model-sim pool, so the autoscaler also starts from the pool policy the chart renders.
    const objects = await template({ nats: { replicas: 3 }, modelSim: { enabled: true } });
    const dir = mkdtempSync(join(tmpdir(), "inferd-r3-"));
    for (const service of UPGRADED) {
      const p = prefixOf(service);
      await createStreamIfMissing(nc, requestsStreamConfig(p));
      await createStreamIfMissing(nc, decisionsStreamConfig(p));
      await openKv(nc, `${p.toUpperCase()}_ENDPOINTS`, { history: 1 });
      await openKv(nc, `${p.toUpperCase()}_AUTOSCALER_LEASE`, { history: 1 });
      const info = await (await jetstreamManager(nc)).streams.info(`${p.toUpperCase()}_REQUESTS`);
      expect(info.config.num_replicas).toBe(1);
    }
    const started = await Promise.all(
      Object.keys(CREATES).map(async (service) => {
        const rendered = parse(named(objects, "ConfigMap", `inferd-${service}`).data!["config.yaml"]!);
        expect(rendered.streamReplicas, service).toBe(3);
        const { config, readyz } = await runnable(rendered, service, cluster.urls);
        const file = join(dir, `${service}.yaml`);
        writeFileSync(file, stringify(config));
        const proc = startProcess({
          command: process.execPath,
          args: [join(REPO, "services", service, "src/main.ts"), "--config", file],
        });
        procs.push(proc);
        return { service, proc, readyz };
      }),
    );
    for (const { service, proc, readyz } of started) {
      await waitFor(
        async () => {
          if (proc.child.exitCode !== null)
            throw new Error(`${service} exited: ${proc.output().slice(-2000)}`);
          return (await fetch(readyz).catch(() => undefined))?.ok === true;
        },
        { timeoutMs: 90_000, message: `${service} ready` },
      );
    }
    const jsm = await jetstreamManager(nc);
    const replicas = new Map<string, number>();
    for await (const info of jsm.streams.list()) replicas.set(info.config.name, info.config.num_replicas);
    for (const [service, streams] of Object.entries(CREATES)) {
      const expected = streams.map((s) => s.replace("P_", `${prefixOf(service).toUpperCase()}_`));
      const got = expected.map((name) => [name, replicas.get(name)]);
      console.log(`[r3] ${service}: ${got.map(([n, r]) => `${n} R${r}`).join(", ")}`);
      expect(got, service).toEqual(expected.map((name) => [name, 3]));
    }
  }, 180_000);
});
