import {
  connectNats,
  decisionsStreamConfig,
  ensureStream,
  jetstream,
  type NatsConnection,
  publishMessage,
  watchEndpoints,
} from "@inferd/bus";
import { create, EndpointState, ScaleDecisionSchema, subjects, timestampNow } from "@inferd/protocol";
import { waitFor } from "@inferd/testkit";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningStack, startStack } from "./stack.ts";

const MODEL = "Qwen/Qwen3-32B";

async function chat(
  gateway: string,
  question: string,
): Promise<{ status: number; endpoint: string | undefined }> {
  const res = await request(`${gateway}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: question }], max_tokens: 8 }),
  });
  await res.body.dump();
  return { status: res.statusCode, endpoint: res.headers["x-inferd-endpoint"] as string | undefined };
}

/** What the autoscaler publishes: a ScaleDecision for `inferd up`'s pool. */
async function decide(nc: NatsConnection, desired: number): Promise<void> {
  await ensureStream(nc, decisionsStreamConfig());
  await publishMessage(
    jetstream(nc),
    subjects().decisions(MODEL, "default"),
    ScaleDecisionSchema,
    create(ScaleDecisionSchema, {
      model: MODEL,
      pool: "default",
      desiredReplicas: desired,
      reason: "e2e",
      decidedAt: timestampNow(),
    }),
  );
}

describe("e2e - the scaling loop of inferd up through the deployer", () => {
  let stack: RunningStack;
  let nc: NatsConnection;

  beforeAll(async () => {
    stack = await startStack({ sims: 1, args: ["--profile", "tiny-fast"] });
    nc = await connectNats({ servers: stack.addresses.nats, name: "e2e-loop" });
  }, 150_000);

  afterAll(async () => {
    await nc?.close();
    expect(await stack?.stop()).toBe(0);
  });

  it("decision -> a new model-sim -> in the inventory -> the scorer routes to it; then drained with no failed request", async () => {
    const gateway = stack.addresses.gateway!;
    const first = stack.addresses.sims[0]!.pod;
    const inventory = await watchEndpoints(nc);
    await inventory.initialized;
    const ready = () =>
      [...inventory.endpoints.values()].filter((e) => e.ready && e.state === EndpointState.READY);
    try {
      const t0 = Date.now();
      await decide(nc, 2);
      const added = await waitFor(() => ready().find((e) => e.pod !== first), {
        timeoutMs: 60_000,
        message: "a second server ready in the inventory",
      });
      process.stdout.write(
        `inferd up: decision -> new server ready in the inventory ${Date.now() - t0} ms\n`,
      );
      // Distinct prompts, so prefix affinity does not pin them to the first server.
      await waitFor(async () => (await chat(gateway, `Question ${Math.random()}?`)).endpoint === added.pod, {
        timeoutMs: 60_000,
        intervalMs: 10,
        message: `the scorer routes a request to ${added.pod}`,
      });

      // Scale back down under load: every request in flight or sent meanwhile succeeds.
      let sending = true;
      const statuses: number[] = [];
      const client = async (id: number) => {
        for (let i = 0; sending && i < 200; i++)
          statuses.push((await chat(gateway, `Load ${id}.${i}?`)).status);
      };
      const load = Promise.all([0, 1, 2].map(client));
      await waitFor(() => statuses.length >= 6, { timeoutMs: 30_000 });
      await decide(nc, 1);
      await waitFor(() => inventory.endpoints.size === 1, { timeoutMs: 60_000, message: "one server left" });
      const after = statuses.length;
      await waitFor(() => statuses.length >= after + 6, { timeoutMs: 30_000 });
      sending = false;
      await load;
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      expect([...inventory.endpoints.values()].map((e) => e.pod)).toHaveLength(1);
    } finally {
      inventory.stop();
    }
  }, 240_000);
});
