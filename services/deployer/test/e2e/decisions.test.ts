import {
  connectNats,
  type EndpointInventory,
  jetstream,
  type NatsConnection,
  watchEndpoints,
} from "@inferd/bus";
import { BUCKETS, type Endpoint, EndpointState, subjects } from "@inferd/protocol";
import { type NatsServerHandle, startNats, waitFor } from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningDeployer, runDeployer } from "../../src/run.ts";
import { deployerConfig, MODEL, publishDecision } from "./helpers.ts";

let nats: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectNats({ servers: nats.url, name: "deployer-e2e" });
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

const ready = (inv: EndpointInventory): Endpoint[] =>
  [...inv.endpoints.values()].filter((e) => e.model === MODEL && e.ready && e.state === EndpointState.READY);

describe("deployer (local driver) over NATS", () => {
  it("deployer - a ScaleDecision starts a server that appears ready in INFERD_ENDPOINTS; scale-down drains it out", async () => {
    const history: Array<[string, EndpointState | "deleted"]> = [];
    const inv = await watchEndpoints(nc, {
      bucket: BUCKETS.endpoints,
      onChange: (key, ep) => history.push([key, ep ? ep.state : "deleted"]),
    });
    let deployer: RunningDeployer | undefined;
    try {
      deployer = await runDeployer(deployerConfig(nats.url, { INFERD_DEPLOYER_DURABLE_NAME: "e2e-scale" }));
      await waitFor(() => ready(inv).length === 1, {
        timeoutMs: 30_000,
        message: "the configured replica ready",
      });
      const first = ready(inv)[0]!;
      expect(first.pool).toBe("sims");
      expect(first.kvEventsEndpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
      expect(first.labels["inferd.io/managed-by"]).toBe("inferd-deployer-local");

      const t0 = Date.now();
      await publishDecision(nc, "sims", 2);
      await waitFor(() => ready(inv).length === 2, { timeoutMs: 30_000, message: "second replica ready" });
      process.stdout.write(
        `local driver: decision -> ready replica in the inventory ${Date.now() - t0} ms\n`,
      );
      const added = ready(inv).find((e) => e.pod !== first.pod)!;
      // It went through starting before ready.
      const addedKey = [...inv.endpoints.entries()].find(([, e]) => e.pod === added.pod)![0];
      const states = history.filter(([k]) => k === addedKey).map(([, s]) => s);
      expect(states[0]).toBe(EndpointState.STARTING);

      await publishDecision(nc, "sims", 1);
      await waitFor(() => inv.endpoints.size === 1 && ready(inv).length === 1, {
        timeoutMs: 30_000,
        message: "back to one",
      });
      const gone = [...new Set(history.map(([k]) => k))].find((k) => !inv.endpoints.has(k))!;
      const goneStates = history.filter(([k]) => k === gone).map(([, s]) => s);
      expect(goneStates.slice(-2)).toEqual([EndpointState.DRAINING, "deleted"]);
    } finally {
      await deployer?.stop();
      inv.stop();
    }
  }, 120_000);

  it("deployer - a restarted deployer acts on the latest decision, including one published while it was down", async () => {
    const inv = await watchEndpoints(nc);
    const config = deployerConfig(nats.url, { INFERD_DEPLOYER_DURABLE_NAME: "e2e-restart" });
    let deployer: RunningDeployer | undefined = await runDeployer(config);
    try {
      await waitFor(() => ready(inv).length === 1, { timeoutMs: 30_000 });
      await deployer.stop();
      deployer = undefined;
      // Its servers and records are gone with it.
      await waitFor(() => inv.endpoints.size === 0, {
        timeoutMs: 10_000,
        message: "records cleared on stop",
      });
      await publishDecision(nc, "sims", 2);
      deployer = await runDeployer(config);
      await waitFor(() => ready(inv).length === 2, {
        timeoutMs: 30_000,
        message: "latest decision applied at start",
      });
      expect(deployer.driver.desired("sims")).toBe(2);
      // A malformed message is skipped, and the decision after it is still applied, clamped to maxReplicas 3.
      await jetstream(nc).publish(
        subjects().decisions(MODEL, "sims"),
        new TextEncoder().encode("not protobuf \u0000\u00ff"),
      );
      await publishDecision(nc, "sims", 10);
      await waitFor(() => deployer?.driver.desired("sims") === 3, { timeoutMs: 10_000 });
    } finally {
      await deployer?.stop();
      inv.stop();
    }
  }, 120_000);
});
