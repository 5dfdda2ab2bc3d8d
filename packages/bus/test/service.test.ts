import { KvLookupRequestSchema, KvLookupResponseSchema, make, subjects } from "@inferd/protocol";
import { headers } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import { describe, expect, it } from "vitest";
import { defineEndpoint, ServiceCallError, ServiceError, serveService, serviceClient } from "../src/index.ts";
import { useNats } from "./helpers.ts";

describe("bus - typed request/reply service", () => {
  const nats = useNats();
  const subject = subjects("svc").kvLookup();

  async function startLookupService() {
    const nc = await nats.connect("server");
    return serveService(nc, {
      name: "kv-index",
      version: "0.1.0",
      description: "test lookup",
      endpoints: [
        defineEndpoint({
          name: "lookup",
          subject,
          request: KvLookupRequestSchema,
          response: KvLookupResponseSchema,
          handler: async (req) => {
            if (req.model === "unknown")
              throw new ServiceError(404, "unknown_model", `model "${req.model}" is not indexed`);
            const tokens = req.prompt.case === "tokens" ? req.prompt.value.ids.length : 0;
            return make(KvLookupResponseSchema, {
              blockSize: 16,
              totalBlocks: Math.floor(tokens / 16),
              promptTokens: tokens,
            });
          },
        }),
      ],
    });
  }

  it("answers protobuf and JSON callers, errors with code, and is listed in $SRV.INFO", async () => {
    const service = await startLookupService();
    const nc = await nats.connect("client");
    const request = make(KvLookupRequestSchema, {
      model: "m",
      prompt: { case: "tokens", value: { ids: Array.from({ length: 40 }, (_, i) => i) } },
    });

    const proto = serviceClient(nc, subject, KvLookupRequestSchema, KvLookupResponseSchema);
    expect((await proto.call(request)).totalBlocks).toBe(2);

    const json = serviceClient(nc, subject, KvLookupRequestSchema, KvLookupResponseSchema, {
      format: "json",
    });
    expect((await json.call(request)).promptTokens).toBe(40);

    // A person with the nats CLI sends plain protobuf-JSON and reads JSON back.
    const h = headers();
    h.set("Content-Type", "application/json");
    const raw = await nc.request(
      subject,
      new TextEncoder().encode('{"model":"m","tokens":{"ids":[1,2,3]}}'),
      { headers: h, timeout: 2000 },
    );
    expect(JSON.parse(new TextDecoder().decode(raw.data))).toEqual({ blockSize: 16, promptTokens: 3 });

    const err = await proto.call(make(KvLookupRequestSchema, { model: "unknown" })).catch((e) => e);
    expect(err).toBeInstanceOf(ServiceCallError);
    expect(err).toMatchObject({ status: 404, code: "unknown_model" });

    const bad = await nc.request(subject, new Uint8Array([0xff, 0x01]), { timeout: 2000 });
    expect(bad.headers?.get("Nats-Service-Error-Code")).toBe("400");

    const infos = [];
    for await (const info of await new Svcm(nc).client().info("kv-index")) infos.push(info);
    expect(infos).toHaveLength(1);
    expect(infos[0]?.endpoints).toEqual([
      expect.objectContaining({ name: "lookup", subject, queue_group: "q" }),
    ]);
    const stats = [];
    for await (const s of await new Svcm(nc).client().stats("kv-index")) stats.push(s);
    expect(stats[0]?.endpoints?.[0]?.num_requests).toBeGreaterThanOrEqual(4);
    await service.stop();
  });

  it("a service without endpoints still registers, with its metadata, for discovery", async () => {
    const server = await nats.connect("gateway");
    await serveService(server, {
      name: "gateway",
      version: "1.2.3",
      description: "no request endpoints",
      endpoints: [],
      metadata: { prefix: "blue" },
    });
    const nc = await nats.connect("client");
    const pings = [];
    for await (const p of await new Svcm(nc).client().ping("gateway")) pings.push(p);
    expect(pings.map((p) => p.version)).toEqual(["1.2.3"]);
    const infos = [];
    for await (const info of await new Svcm(nc).client().info("gateway")) infos.push(info);
    expect(infos[0]?.metadata).toMatchObject({ prefix: "blue" });
    expect(infos[0]?.endpoints).toEqual([]);
  });

  it("reports no responders and timeouts as ServiceCallError 503", async () => {
    const nc = await nats.connect();
    const client = serviceClient(nc, "nobody.home", KvLookupRequestSchema, KvLookupResponseSchema);
    const err = await client.call(make(KvLookupRequestSchema, {}), { timeoutMs: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(ServiceCallError);
    expect(err.status).toBe(503);
    expect(["no_responders", "timeout"]).toContain(err.code);
  });
});
