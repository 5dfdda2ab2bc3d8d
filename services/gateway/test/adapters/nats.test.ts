import {
  connectNats,
  createStreamIfMissing,
  deleteEndpoint,
  jetstreamManager,
  type NatsConnection,
  openKv,
  putEndpoint,
  requestsStreamConfig,
  serveService,
} from "@inferd/bus";
import {
  BUCKETS,
  decode,
  EndpointRole,
  EndpointSchema,
  make,
  PickOutcome,
  type PickRequest,
  PickRequestSchema,
  PickResponseSchema,
  type RequestEvent,
  RequestEventSchema,
  RequestPhase,
  STREAMS,
  subjects,
} from "@inferd/protocol";
import { startNats, waitFor } from "@inferd/testkit";
import { Svcm } from "@nats-io/services";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { registerGateway, SERVICE_NAME } from "../../src/adapters/discovery.ts";
import { followEndpointBucket } from "../../src/adapters/endpoint-source.ts";
import { natsEventSink } from "../../src/adapters/nats-events.ts";
import { natsPicker } from "../../src/adapters/nats-picker.ts";
import { Inventory } from "../../src/domain/inventory.ts";
import { startFakeUpstream } from "../fake-upstream.ts";
import { build, chatBody, MODEL } from "../helper.ts";

let server: Awaited<ReturnType<typeof startNats>>;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNats({ jetstream: true });
  nc = await connectNats({ servers: server.url, name: "gateway-test" });
});
afterAll(async () => {
  await nc?.close();
  await server?.dispose();
});

describe("nats", () => {
  it("nats - the gateway asks the real scorer subject and routes where it says", async () => {
    const a = await startFakeUpstream("chosen");
    onTestFinished(() => a.close());
    const seen: PickRequest[] = [];
    const svc = await serveService(nc, {
      name: "fake-scorer",
      version: "0.0.1",
      description: "test",
      endpoints: [
        {
          name: "pick",
          subject: subjects().schedPick(),
          request: PickRequestSchema,
          response: PickResponseSchema,
          handler: async (req: PickRequest) => {
            seen.push(req);
            return make(PickResponseSchema, {
              outcome: PickOutcome.OK,
              endpoints: [{ pod: "chosen", address: a.address }],
            });
          },
        },
      ],
    });
    onTestFinished(async () => {
      await svc.stop();
    });
    // The deadline is not under test here: generous, so CPU contention cannot turn it into a FailClose 503.
    const { app } = await build({ models: { [MODEL]: {} }, pick: natsPicker(nc), pickDeadlineMs: 2000 });
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: {
        "x-request-id": "n1",
        "x-session-id": "sess",
        "x-llm-d-inference-objective": "critical",
        "x-llm-d-slo-ttft-ms": "500",
      },
      payload: chatBody({ max_tokens: 9 }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-inferd-endpoint"]).toBe("chosen");
    expect(seen[0]).toMatchObject({
      // The scorer accounts by the gateway's id, never by the client's x-request-id.
      requestId: res.headers["x-inferd-request-id"],
      model: MODEL,
      sessionId: "sess",
      priority: 100,
      sloTtftMs: 500,
      maxTokens: 9,
      // The gateway reads only the endpoints: the scorer need not build every candidate's scores.
      omitCandidates: true,
    });
    expect(seen[0]!.prompt.case).toBe("chat");
  });

  it("nats - no scorer on the bus: FailOpen serves locally, FailClose answers 503", async () => {
    const a = await startFakeUpstream("local");
    onTestFinished(() => a.close());
    const ep = {
      model: MODEL,
      pod: "local",
      address: a.address,
      role: "both" as const,
      loraAdapters: [],
      ready: true,
      pool: "",
    };
    const pick = natsPicker(nc, "noscorer");
    const open = await build({ endpoints: [ep], pick, modelDefaults: { failureMode: "FailOpen" } });
    expect(
      (await open.app.inject({ method: "POST", url: "/v1/chat/completions", payload: chatBody() }))
        .statusCode,
    ).toBe(200);
    const closed = await build({ endpoints: [ep], pick, modelDefaults: { failureMode: "FailClose" } });
    expect(
      (await closed.app.inject({ method: "POST", url: "/v1/chat/completions", payload: chatBody() }))
        .statusCode,
    ).toBe(503);
  });

  it("nats - the INFERD_REQUESTS stream captures the gateway's events", async () => {
    expect(await createStreamIfMissing(nc, requestsStreamConfig())).toBe("created");
    const sink = natsEventSink(nc, "gw-s");
    sink.requestEvent(
      MODEL,
      make(RequestEventSchema, { requestId: "stored", phase: RequestPhase.COMPLETED, model: MODEL }),
    );
    const jsm = await jetstreamManager(nc);
    await waitFor(async () => (await jsm.streams.info(STREAMS.requests)).state.messages >= 1, {
      message: "event stored",
    });
  });

  it("nats - an event given as a function is built when its batch is published; one that cannot be built is dropped", async () => {
    const got: RequestEvent[] = [];
    const sub = nc.subscribe(subjects().requests(MODEL));
    onTestFinished(() => sub.unsubscribe());
    void (async () => {
      for await (const m of sub) got.push(decode(RequestEventSchema, m.data));
    })();
    const dropped: string[] = [];
    const sink = natsEventSink(nc, "gw-b", { onDropped: (_err, _subject, reason) => dropped.push(reason) });
    let built = 0;
    const event = (requestId: string) => () => {
      built++;
      return make(RequestEventSchema, { requestId, phase: RequestPhase.ADMITTED, model: MODEL });
    };
    sink.requestEvent(MODEL, event("b1"));
    sink.requestEvent(MODEL, () => {
      throw new Error("cannot build");
    });
    sink.requestEvent(MODEL, event("b2"));
    expect(built).toBe(0);
    await waitFor(() => got.length === 2, { message: "built events received" });
    expect(got.map((e) => e.requestId)).toEqual(["b1", "b2"]);
    expect(built).toBe(2);
    expect(dropped).toEqual(["unencodable"]);
  });

  it("nats - lifecycle events and demand are published on their subjects", async () => {
    const got: RequestEvent[] = [];
    const sub = nc.subscribe(subjects().requests(MODEL));
    const demand = nc.subscribe(subjects().demand(MODEL));
    onTestFinished(() => {
      sub.unsubscribe();
      demand.unsubscribe();
    });
    void (async () => {
      for await (const m of sub) got.push(decode(RequestEventSchema, m.data));
    })();
    const sink = natsEventSink(nc, "gw-1");
    sink.requestEvent(
      MODEL,
      make(RequestEventSchema, {
        requestId: "e1",
        phase: RequestPhase.ADMITTED,
        model: MODEL,
        gatewayId: "gw-1",
      }),
    );
    sink.demand(MODEL, 3, 1.5);
    await waitFor(() => got.length === 1, { message: "RequestEvent received" });
    expect(got[0]).toMatchObject({ requestId: "e1", phase: RequestPhase.ADMITTED, gatewayId: "gw-1" });
    const it = demand[Symbol.asyncIterator]();
    const d = await it.next();
    expect(d.value.subject).toBe(subjects().demand(MODEL));
  });

  it("nats - the inventory follows the INFERD_ENDPOINTS bucket", async () => {
    const kv = await openKv(nc, BUCKETS.endpoints, { history: 1 });
    const inventory = new Inventory();
    let changes = 0;
    const watch = await followEndpointBucket(
      nc,
      inventory,
      () => changes++,
      () => undefined,
    );
    onTestFinished(() => watch.stop());
    await watch.initialized;
    const ep = make(EndpointSchema, {
      model: "org/m.v1",
      pod: "pod-1",
      address: "http://127.0.0.1:9",
      role: EndpointRole.DECODE,
      loraAdapters: ["ad"],
      ready: true,
    });
    await putEndpoint(kv, ep);
    await waitFor(() => inventory.resolve("ad")?.baseModel === "org/m.v1", {
      message: "endpoint in inventory",
    });
    expect(inventory.all()[0]).toMatchObject({ pod: "pod-1", role: "decode", ready: true });
    await deleteEndpoint(kv, "org/m.v1", "pod-1");
    await waitFor(() => inventory.all().length === 0, { message: "endpoint removed" });
    expect(changes).toBeGreaterThanOrEqual(2);
  });

  it("nats - the gateway registers with the NATS micro-services API", async () => {
    const reg = await registerGateway(nc, {
      prefix: "inferd",
      gatewayId: "gw-7",
      port: 8080,
      version: "0.1.0",
    });
    onTestFinished(async () => void (await reg.stop()));
    const infos = [];
    for await (const info of await new Svcm(nc).client().info(SERVICE_NAME)) infos.push(info);
    expect(infos).toHaveLength(1);
    expect(infos[0]!.metadata).toMatchObject({ prefix: "inferd", gatewayId: "gw-7", httpPort: "8080" });
  });
});
