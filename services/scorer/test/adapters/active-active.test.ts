import { connectNats, encodeMessage, messageHeaders, type NatsConnection, serviceClient } from "@inferd/bus";
import {
  make,
  PickOutcome,
  PickRequestSchema,
  PickResponseSchema,
  RequestEventSchema,
  RequestPhase,
  subjects,
} from "@inferd/protocol";
import { type NatsServerHandle, startNats, waitFor } from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningScorer, runScorer } from "../../src/run.ts";
import { quietLogger, testConfig, writeTemp } from "./helpers.ts";

const MODEL = "Qwen/Qwen3-32B";
const ENDPOINTS = `endpoints:
- {model: ${MODEL}, pod: sim-a, address: "http://127.0.0.1:1"}
- {model: ${MODEL}, pod: sim-b, address: "http://127.0.0.1:2"}
`;

describe("scorer replicas (active-active)", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  const replicas: RunningScorer[] = [];
  const s = subjects();

  beforeAll(async () => {
    nats = await startNats({ jetstream: true });
    nc = await connectNats({ servers: nats.url, name: "test" });
    const file = writeTemp("endpoints.yaml", ENDPOINTS);
    for (const id of ["r1", "r2"]) {
      replicas.push(
        await runScorer(testConfig(nats.url, { endpointsFile: file, replicaId: id }), {
          logger: quietLogger(),
        }),
      );
    }
  });

  afterAll(async () => {
    for (const r of replicas) await r.stop();
    await nc?.drain();
    await nats?.stop();
  });

  function publish(requestId: string, phase: RequestPhase, endpoint: string, promptTokens: number): void {
    const ev = make(RequestEventSchema, {
      requestId,
      phase,
      model: MODEL,
      baseModel: MODEL,
      endpoint,
      promptTokens,
    });
    nc.publish(s.requests(MODEL), encodeMessage(RequestEventSchema, ev), {
      headers: messageHeaders(RequestEventSchema),
    });
  }

  const loads = (pod: string) => replicas.map((r) => r.core.inflight.load(pod));

  /** A pick over NATS of a 750-token text prompt for MODEL. */
  const pickHello = (requestId: string, omitCandidates = false) =>
    serviceClient(nc, s.schedPick(), PickRequestSchema, PickResponseSchema).call(
      make(PickRequestSchema, {
        requestId,
        model: MODEL,
        prompt: { case: "text", value: "hello ".repeat(500) },
        omitCandidates,
      }),
      { timeoutMs: 2000 },
    );

  it("scorer - two replicas see the same in-flight load from lifecycle events", async () => {
    publish("x1", RequestPhase.ROUTED, "sim-a", 1000);
    publish("x2", RequestPhase.ROUTED, "sim-a", 500);
    publish("x3", RequestPhase.ROUTED, "sim-b", 200);
    await waitFor(() => loads("sim-a").every((l) => l.requests === 2 && l.tokens === 1500), {
      message: "both replicas count 2 requests / 1500 tokens on sim-a",
    });
    expect(loads("sim-b")).toEqual([
      { requests: 1, tokens: 200, prefillTokens: 200 },
      { requests: 1, tokens: 200, prefillTokens: 200 },
    ]);
    publish("x1", RequestPhase.COMPLETED, "sim-a", 1000);
    await waitFor(() => loads("sim-a").every((l) => l.requests === 1 && l.tokens === 500), {
      message: "both replicas release x1",
    });
  });

  it("scorer - picks over NATS; a pick made by one replica is known to the other once routed", async () => {
    const res = await pickHello("p1");
    expect(res.outcome).toBe(PickOutcome.OK);
    expect(res.endpoints.map((e) => e.pod).sort()).toEqual(["sim-a", "sim-b"]);
    expect(res.endpoints[0]?.address).toMatch(/^http:\/\/127\.0\.0\.1:/);
    expect(res.candidates).toHaveLength(2);
    expect(Object.keys(res.candidates[0]!.scores)).toContain("predicted-ttft-scorer");
    expect(res.promptTokens).toBe(750);
    // The answering replica shares its decision (with the cached part it expects), so the other one
    // counts the request at once; the gateway's ROUTED event (no cached_tokens) then changes nothing.
    const pod = res.endpoints[0]!.pod;
    await waitFor(
      () =>
        loads(pod)[0]!.tokens === loads(pod)[1]!.tokens &&
        loads(pod)[0]!.requests === loads(pod)[1]!.requests,
      {
        message: "both replicas count p1 from the shared decision",
      },
    );
    const before = loads(pod)[0]!;
    publish("p1", RequestPhase.ROUTED, pod, 750);
    // Events are applied in stream order: once a later marker is in, p1's ROUTED has been applied.
    publish("marker", RequestPhase.ROUTED, "sim-marker", 1);
    await waitFor(() => loads("sim-marker").every((l) => l.requests === 1), { message: "events applied" });
    expect(loads(pod)).toEqual([before, before]);
  });

  it("scorer - a replica started later rebuilds in-flight state by replaying recent events", async () => {
    const file = writeTemp("endpoints.yaml", ENDPOINTS);
    const late = await runScorer(testConfig(nats.url, { endpointsFile: file, replicaId: "r3" }), {
      logger: quietLogger(),
    });
    replicas.push(late);
    await waitFor(
      () => late.core.inflight.load("sim-b").requests === replicas[0]!.core.inflight.load("sim-b").requests,
      {
        message: "late replica replays lifecycle events",
      },
    );
    expect(late.core.inflight.load("sim-a")).toEqual(replicas[0]!.core.inflight.load("sim-a"));
  });

  it("scorer - bad pick requests get an error reply, unknown models NO_ENDPOINTS", async () => {
    const client = serviceClient(nc, s.schedPick(), PickRequestSchema, PickResponseSchema);
    const res = await client.call(make(PickRequestSchema, { requestId: "p2", model: "nope" }), {
      timeoutMs: 2000,
    });
    expect(res.outcome).toBe(PickOutcome.NO_ENDPOINTS);
    expect(res.message).toMatch(/no endpoint serves model "nope"/);
    const reply = await nc.request(s.schedPick(), new Uint8Array([0xff, 0xff, 0xff]), { timeout: 2000 });
    expect(reply.headers?.get("Nats-Service-Error-Code")).toBe("400");
  });

  // Last: its pick adds speculative in-flight load, which the replay test above does not expect.
  it("scorer - a caller that does not read the candidates (the gateway) gets the same pick without them", async () => {
    const lean = await pickHello("p1-lean", true);
    expect(lean.outcome).toBe(PickOutcome.OK);
    expect(lean.endpoints).toHaveLength(2);
    expect(lean.candidates).toEqual([]);
  });
});
