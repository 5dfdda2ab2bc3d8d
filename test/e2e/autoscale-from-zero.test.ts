import { join } from "node:path";
import { loadAutoscalerConfig, type RunningAutoscaler, runAutoscaler } from "@inferd/autoscaler";
import { connectNats, DeliverPolicy, jetstream, type NatsConnection, openKv, putEndpoint } from "@inferd/bus";
import { type SimServerHandle, startSimServer } from "@inferd/model-sim";
import {
  BUCKETS,
  create,
  decode,
  EndpointRole,
  EndpointSchema,
  type ScaleDecision,
  ScaleDecisionSchema,
  STREAMS,
  timestampNow,
} from "@inferd/protocol";
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

const GATEWAY_MAIN = join(import.meta.dirname, "../../services/gateway/src/main.ts");
const MODEL = "tiny/scale-from-zero";
const NEVER = "tiny/never-scaled";

/**
 * A test actuator standing in for the deployer: it follows INFERD_DECISIONS and, for a decision
 * above the current size, starts a simulated vLLM server and registers it ready in INFERD_ENDPOINTS.
 */
async function testActuator(nc: NatsConnection, sims: SimServerHandle[], seen: ScaleDecision[]) {
  const kv = await openKv(nc, BUCKETS.endpoints, { history: 1 });
  const consumer = await waitFor(() =>
    jetstream(nc).consumers.get(STREAMS.decisions, { deliver_policy: DeliverPolicy.All }),
  );
  const messages = await consumer.consume();
  void (async () => {
    for await (const m of messages) {
      const d = decode(ScaleDecisionSchema, m.data);
      seen.push(d);
      while (sims.length < d.desiredReplicas) {
        const sim = await startSimServer({
          port: 0,
          model: d.model,
          servedModelNames: [d.model],
          profile: "tiny-fast",
          logLevel: "warn",
        });
        sims.push(sim);
        await sim.ready;
        await putEndpoint(
          kv,
          create(EndpointSchema, {
            model: d.model,
            pod: sim.podName,
            address: sim.url,
            role: EndpointRole.BOTH,
            ready: true,
            pool: d.pool,
            updatedAt: timestampNow(),
          }),
        );
      }
    }
  })();
  return async () => {
    await messages.close();
  };
}

async function chat(gateway: string, model: string) {
  const res = await request(`${gateway}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "wake up" }], max_tokens: 4 }),
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe("e2e - scale from zero: the gateway holds, the autoscaler answers, the request is served", () => {
  let nats: NatsServerHandle;
  let gateway: ManagedProcess;
  let gatewayUrl: string;
  let autoscaler: RunningAutoscaler;
  let nc: NatsConnection;
  let stopActuator: () => Promise<void>;
  const sims: SimServerHandle[] = [];
  const decisions: ScaleDecision[] = [];

  beforeAll(async () => {
    nats = await startNats();
    const port = await freePort();
    gatewayUrl = `http://127.0.0.1:${port}`;
    gateway = startProcess({
      command: process.execPath,
      args: [GATEWAY_MAIN],
      env: {
        ...process.env,
        INFERD_GATEWAY_NATS_URL: nats.url,
        INFERD_GATEWAY_PORT: String(port),
        INFERD_GATEWAY_USE_SCORER: "false",
        INFERD_GATEWAY_LOG_LEVEL: "warn",
        // Both models are known while they have no endpoint (pools at zero).
        INFERD_GATEWAY_MODELS: JSON.stringify({
          [MODEL]: { noEndpointTtlMs: 30_000 },
          [NEVER]: { noEndpointTtlMs: 300 },
        }),
      },
    });
    await waitFor(() => request(`${gatewayUrl}/readyz`).then((r) => r.statusCode === 200), {
      timeoutMs: 20_000,
      message: `gateway did not get ready:\n${gateway.output()}`,
    });
    autoscaler = await runAutoscaler(
      loadAutoscalerConfig([], {
        INFERD_AUTOSCALER_NATS_URL: nats.url,
        INFERD_AUTOSCALER_OPS_PORT: "0",
        INFERD_AUTOSCALER_INTERVAL_MS: "100",
        INFERD_AUTOSCALER_LOG_LEVEL: "warn",
        INFERD_AUTOSCALER_POOLS: JSON.stringify([
          {
            model: MODEL,
            pool: "default",
            minReplicas: 0,
            maxReplicas: 2,
            scaleToZero: true,
            fromZeroReplicas: 1,
          },
        ]),
      }),
    );
    nc = await connectNats({ servers: nats.url, name: "test-actuator" });
    stopActuator = await testActuator(nc, sims, decisions);
  });

  afterAll(async () => {
    await stopActuator?.();
    await nc?.close();
    await autoscaler?.stop();
    await gateway?.stop();
    for (const s of sims) await s.close();
    await nats?.dispose();
  });

  it("holds the request while the pool is at zero, publishes Demand, and serves it once a replica is ready", async () => {
    expect(sims).toHaveLength(0);
    const res = await chat(gatewayUrl, MODEL);
    expect(res.status).toBe(200);
    expect(sims).toHaveLength(1);
    const d = decisions[0]!;
    expect(d.desiredReplicas).toBe(1);
    expect(d.currentReplicas).toBe(0);
    expect(d.reason).toMatch(
      /^scale from zero 0 -> 1: \d+ request\(s\) held by gateways while the pool has no ready replica/,
    );
    expect(d.inputs?.heldRequests).toBeGreaterThanOrEqual(1);
  });

  it("answers 503 with a clear error when no replica comes within the hold time", async () => {
    const res = await chat(gatewayUrl, NEVER);
    expect(res.status).toBe(503);
    const error = res.body.error as { code: string; message: string };
    expect(error.code).toBe("no_endpoints");
    expect(error.message).toMatch(
      /no endpoint can serve "tiny\/never-scaled": no ready endpoint within \d+ ms/,
    );
  });
});
