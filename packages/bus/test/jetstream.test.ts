import {
  create,
  decode,
  EndpointRole,
  EndpointSchema,
  encode,
  make,
  RequestEventSchema,
  RequestPhase,
} from "@inferd/protocol";
import { waitFor } from "@inferd/testkit";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import {
  createStreamIfMissing,
  DECISIONS_STREAM_LIMITS,
  decisionsStreamConfig,
  decodeMessage,
  deleteEndpoint,
  ensureConsumer,
  ensureStream,
  jetStreamClient,
  jetstreamManager,
  openKv,
  publishMessage,
  putEndpoint,
  REQUESTS_STREAM_LIMITS,
  requestsStreamConfig,
  watchEndpoints,
} from "../src/index.ts";
import { useNats } from "./helpers.ts";

describe("bus - JetStream", () => {
  const nats = useNats();

  it("ensureStream and ensureConsumer are idempotent and apply updates", async () => {
    const nc = await nats.connect();
    await ensureStream(nc, { name: "IDEM", subjects: ["idem.>"] });
    const updated = await ensureStream(nc, { name: "IDEM", subjects: ["idem.>"], max_msgs: 100 });
    expect(updated.config.max_msgs).toBe(100);
    await ensureConsumer(nc, "IDEM", { durable_name: "c", ack_policy: AckPolicy.Explicit });
    const again = await ensureConsumer(nc, "IDEM", {
      durable_name: "c",
      ack_policy: AckPolicy.Explicit,
      max_deliver: 5,
    });
    expect(again.config.max_deliver).toBe(5);
  });

  it("a durable consumer survives a consumer restart without losing or duplicating acknowledged messages", async () => {
    const nc = await nats.connect();
    await ensureStream(nc, { name: "REQ", subjects: ["req.>"], duplicate_window: 60_000_000_000 });
    await ensureConsumer(nc, "REQ", {
      durable_name: "worker",
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    const js = jetStreamClient(nc);
    for (let i = 0; i < 10; i++) {
      const event = make(RequestEventSchema, { requestId: `r${i}`, phase: RequestPhase.ADMITTED });
      await publishMessage(js, "req.m", RequestEventSchema, event, { msgId: `r${i}` });
    }
    // A re-sent message with the same id is dropped by the server's duplicate window.
    const dup = await publishMessage(
      js,
      "req.m",
      RequestEventSchema,
      make(RequestEventSchema, { requestId: "r0" }),
      { msgId: "r0" },
    );
    expect(dup.duplicate).toBe(true);

    const seen: string[] = [];
    const first = await js.consumers.get("REQ", "worker");
    const iter1 = await first.consume({ max_messages: 1 });
    for await (const m of iter1) {
      seen.push(decodeMessage(m, RequestEventSchema).requestId);
      m.ack();
      if (seen.length === 4) break;
    }
    await iter1.close();

    const consumerAgain = await jetStreamClient(await nats.connect("restarted")).consumers.get(
      "REQ",
      "worker",
    );
    const iter2 = await consumerAgain.consume({ max_messages: 1 });
    for await (const m of iter2) {
      seen.push(decodeMessage(m, RequestEventSchema).requestId);
      m.ack();
      if (seen.length >= 10) break;
    }
    await iter2.close();
    const info = await consumerAgain.info();
    // The 5th message may have been delivered but not acked before the first consumer closed;
    // it is then redelivered, never lost. Acknowledged ones are never seen twice.
    expect(new Set(seen)).toEqual(new Set(Array.from({ length: 10 }, (_, i) => `r${i}`)));
    expect(seen).toHaveLength(10);
    expect(info.num_pending).toBe(0);
  });

  it("a KV watch sees puts and deletes of the endpoint inventory", async () => {
    const nc = await nats.connect();
    const kv = await openKv(nc, "INFERD_ENDPOINTS_T");
    const base = create(EndpointSchema, {
      model: "Qwen/Qwen3-32B",
      pod: "sim-0",
      address: "http://127.0.0.1:8000",
      ready: true,
      role: EndpointRole.BOTH,
    });
    await putEndpoint(kv, base);
    const changes: string[] = [];
    const inventory = await watchEndpoints(nc, {
      bucket: "INFERD_ENDPOINTS_T",
      onChange: (key, ep) => changes.push(`${ep ? "put" : "del"} ${key}`),
    });
    await inventory.initialized;
    expect([...inventory.endpoints.values()].map((e) => e.pod)).toEqual(["sim-0"]);
    await putEndpoint(kv, { ...base, pod: "sim-1" });
    await deleteEndpoint(kv, base.model, "sim-0");
    await waitFor(() => inventory.endpoints.size === 1 && inventory.endpoints.has("Qwen=2FQwen3-32B.sim-1"));
    expect(changes).toEqual([
      "put Qwen=2FQwen3-32B.sim-0",
      "put Qwen=2FQwen3-32B.sim-1",
      "del Qwen=2FQwen3-32B.sim-0",
    ]);
    expect(
      decode(EndpointSchema, encode(EndpointSchema, inventory.endpoints.get("Qwen=2FQwen3-32B.sim-1")!))
        .address,
    ).toBe("http://127.0.0.1:8000");
    inventory.stop();
  });
});

describe("bus - contract streams", () => {
  const nats = useNats();

  it("creates INFERD_REQUESTS once and leaves an existing definition alone", async () => {
    const nc = await nats.connect();
    // Two services racing: both succeed (the server accepts an identical create).
    const raced = await Promise.all([
      createStreamIfMissing(nc, requestsStreamConfig()),
      createStreamIfMissing(nc, requestsStreamConfig()),
    ]);
    expect(raced).toContain("created");
    await ensureStream(nc, { ...requestsStreamConfig(), max_msgs: 7 });
    expect(await createStreamIfMissing(nc, requestsStreamConfig())).toBe("exists");
    const info = await (await jetstreamManager(nc)).streams.info("INFERD_REQUESTS");
    expect(info.config.max_msgs).toBe(7);
    expect(info.config.subjects).toEqual(["inferd.v1.requests.*"]);
  });

  it("two installations (subject prefixes) share one NATS: their streams and buckets are separate", async () => {
    const nc = await nats.connect();
    expect(await createStreamIfMissing(nc, requestsStreamConfig("blue"))).toBe("created");
    expect(await createStreamIfMissing(nc, requestsStreamConfig("green.prod"))).toBe("created");
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("BLUE_REQUESTS")).config.subjects).toEqual(["blue.v1.requests.*"]);
    expect((await jsm.streams.info("GREEN_PROD_REQUESTS")).config.subjects).toEqual([
      "green.prod.v1.requests.*",
    ]);
    const kv = await openKv(nc, "GREEN_PROD_ENDPOINTS");
    await putEndpoint(
      kv,
      create(EndpointSchema, { model: "m", pod: "green-0", address: "http://g", ready: true }),
    );
    const blue = await watchEndpoints(nc, { prefix: "blue" });
    const green = await watchEndpoints(nc, { prefix: "green.prod" });
    await Promise.all([blue.initialized, green.initialized]);
    expect([blue.endpoints.size, green.endpoints.size]).toEqual([0, 1]);
    blue.stop();
    green.stop();
  });

  it("every contract stream has an age and a byte limit, oldest discarded first", async () => {
    const nc = await nats.connect();
    await createStreamIfMissing(nc, requestsStreamConfig("lim", { maxAgeSeconds: 60, maxBytes: 4096 }));
    await createStreamIfMissing(nc, decisionsStreamConfig("lim"));
    const jsm = await jetstreamManager(nc);
    const req = (await jsm.streams.info("LIM_REQUESTS")).config;
    expect([req.max_age, req.max_bytes, req.discard]).toEqual([60e9, 4096, "old"]);
    const dec = (await jsm.streams.info("LIM_DECISIONS")).config;
    expect([dec.max_age, dec.max_bytes]).toEqual([
      DECISIONS_STREAM_LIMITS.maxAgeSeconds * 1e9,
      DECISIONS_STREAM_LIMITS.maxBytes,
    ]);
    expect(requestsStreamConfig().max_bytes).toBe(REQUESTS_STREAM_LIMITS.maxBytes);
    expect(() => requestsStreamConfig("x", { maxAgeSeconds: 0, maxBytes: 1 })).toThrow(/limits/);
  });
});
