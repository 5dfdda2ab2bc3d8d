import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { encodeMessage } from "@inferd/bus";
import { make, PickOutcome, PickRequestSchema, PickResponseSchema } from "@inferd/protocol";
import { makeTestCertificates, waitFor } from "@inferd/testkit";
import { Agent, request } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import type { PickFn } from "../../../src/options.ts";
import { startFakeUpstream } from "../../fake-upstream.ts";
import { build, chatBody, endpointOf, MODEL } from "../../helper.ts";

/**
 * Values that reach protobuf fields are refused at the edge with a 400, never passed on to make
 * an encoder throw (issue 17: `"max_tokens": 1e300` crashed the gateway; a negative token id
 * turned into a 503 "endpoint picker unavailable").
 */
describe("edge validation", () => {
  async function gateway(opts: Parameters<typeof build>[0] = {}) {
    const up = await startFakeUpstream("sim-a");
    onTestFinished(() => up.close());
    // A scorer that encodes the PickRequest with the real codec, as the NATS client does.
    const pick: PickFn = async (req) => {
      encodeMessage(PickRequestSchema, req);
      return make(PickResponseSchema, {
        outcome: PickOutcome.OK,
        endpoints: [{ pod: up.pod, address: up.address }],
      });
    };
    const h = await build({ endpoints: [endpointOf(up)], models: { [MODEL]: {} }, pick, ...opts });
    return { ...h, up };
  }

  const post = (url: string, body: unknown, headers: Record<string, string> = {}) => ({
    method: "POST" as const,
    url,
    payload: JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });

  it("edge - token limits beyond uint32 are a 400 naming the field", async () => {
    const { app, events } = await gateway();
    for (const [field, value] of [
      ["max_tokens", 1e300],
      ["max_tokens", 2 ** 32],
      ["max_completion_tokens", 1e20],
      ["n", 1e9],
      ["top_logprobs", 1e6],
    ] as const) {
      const res = await app.inject(post("/v1/chat/completions", chatBody({ [field]: value })));
      expect(res.statusCode, `${field}=${value}`).toBe(400);
      expect(res.json().error).toMatchObject({ param: field, code: "invalid_request" });
    }
    expect(events.requests).toHaveLength(0);
    const ok = await app.inject(post("/v1/chat/completions", chatBody({ max_tokens: 2 ** 32 - 1 })));
    expect(ok.statusCode).toBe(200);
  });

  it("edge - token ids outside uint32 are a 400, not a scorer failure", async () => {
    const { app } = await gateway();
    for (const prompt of [[-1, 2], [2 ** 32], [[1, -5]], [1.5]]) {
      const res = await app.inject(post("/v1/completions", { model: MODEL, prompt, max_tokens: 2 }));
      expect(res.statusCode, JSON.stringify(prompt)).toBe(400);
      expect(res.json().error.param).toMatch(/^prompt/);
    }
    const ok = await app.inject(post("/v1/completions", { model: MODEL, prompt: [0, 2 ** 32 - 1] }));
    expect(ok.statusCode).toBe(200);
  });

  it("edge - an objective priority outside int32 is a 400 invalid_header", async () => {
    const { app } = await gateway();
    const res = await app.inject(
      post("/v1/chat/completions", chatBody(), { "x-llm-d-inference-objective": "99999999999" }),
    );
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: "invalid_header", param: "x-llm-d-inference-objective" });
  });

  it("edge - a model server's absurd usage figures are capped, not allowed to break the event", async () => {
    const { app, events, up } = await gateway();
    up.behaviour.cachedTokens = 1e12;
    const res = await app.inject(
      post("/v1/chat/completions", chatBody({ max_tokens: 2 }), { "x-request-id": "big-usage" }),
    );
    expect(res.statusCode).toBe(200);
    // RecordingSink encodes every event with the real codec: an uncapped figure would throw.
    expect(events.last("big-usage")?.cachedTokens).toBe(4294967295);
  });

  it("edge - oversized headers get a 431 with OpenAI error JSON", async () => {
    const { url } = await gateway({
      listen: true,
      listener: { headersTimeoutMs: 5000, requestTimeoutMs: 5000, maxHeaderBytes: 2048 },
    });
    const res = await fetch(`${url}/v1/models`, { headers: { "x-big": "a".repeat(4096) } });
    expect(res.status).toBe(431);
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({
      code: "headers_too_large",
      type: "invalid_request_error",
    });
  });

  it("edge - a slow-loris client gets a 408 and is disconnected while others are served", async () => {
    const { url } = await gateway({
      listen: true,
      listener: { headersTimeoutMs: 300, requestTimeoutMs: 600, maxHeaderBytes: 16384 },
    });
    const port = Number(new URL(url).port);
    const sock = connect(port, "127.0.0.1");
    let received = "";
    sock.on("data", (d) => {
      received += d.toString("latin1");
    });
    const closed = new Promise<void>((resolve) => sock.on("close", () => resolve()));
    // Headers that never end: the parser must give up on its own.
    sock.write("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n");
    const dribble = setInterval(() => sock.writable && sock.write("x-a: b\r\n"), 50);
    onTestFinished(() => clearInterval(dribble));
    const other = await fetch(`${url}/v1/models`);
    expect(other.status).toBe(200);
    await closed;
    clearInterval(dribble);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
    expect(JSON.parse(received.slice(received.indexOf("\r\n\r\n") + 4)).error.code).toBe("request_timeout");
  });

  it("edge - every refusal is counted by reason (the audit trail's metric)", async () => {
    const { app, registry } = await gateway({ models: { [MODEL]: { apiKeys: ["k"] } } });
    await app.inject(
      post("/v1/chat/completions", chatBody({ max_tokens: 1e300 }), { authorization: "Bearer k" }),
    );
    await app.inject(post("/v1/chat/completions", chatBody()));
    await app.inject(post("/v1/chat/completions", chatBody({ model: "nope" })));
    const values = (await registry.getSingleMetric("inferd_gateway_refused_requests_total")!.get()).values;
    const count = (reason: string) => values.find((v) => v.labels.reason === reason)?.value ?? 0;
    expect(count("invalid_request")).toBe(1);
    expect(count("invalid_api_key")).toBe(1);
    expect(count("model_not_found")).toBe(1);
  });

  it("edge - serves HTTPS when given a certificate (tlsCertFile/tlsKeyFile)", async () => {
    const c = makeTestCertificates();
    const { url } = await gateway({
      listen: true,
      tls: { cert: readFileSync(c.serverCertFile), key: readFileSync(c.serverKeyFile) },
    });
    expect(url).toMatch(/^https:/);
    const agent = new Agent({ connect: { ca: readFileSync(c.caFile) } });
    onTestFinished(() => agent.close());
    const res = await request(`${url}/v1/chat/completions`, {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody({ max_tokens: 2 })),
    });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    // A client that does not trust the certificate's CA refuses the connection.
    await expect(request(`${url}/v1/models`)).rejects.toThrow();
  });

  it("edge - a client past maxConcurrentPerClient gets a 429; another key is still served", async () => {
    const { app, up } = await gateway({ maxConcurrentPerClient: 1 });
    let open: () => void = () => undefined;
    up.behaviour.gate = new Promise<void>((r) => {
      open = r;
    });
    const held = app.inject(post("/v1/chat/completions", chatBody(), { authorization: "Bearer one" }));
    await waitFor(() => up.received.length === 1, { message: "first request at the model server" });
    const second = await app.inject(
      post("/v1/chat/completions", chatBody(), { authorization: "Bearer one" }),
    );
    expect(second.statusCode).toBe(429);
    expect(second.json().error.code).toBe("too_many_concurrent_requests");
    up.behaviour.gate = undefined;
    const other = await app.inject(post("/v1/chat/completions", chatBody(), { authorization: "Bearer two" }));
    expect(other.statusCode).toBe(200);
    open();
    expect((await held).statusCode).toBe(200);
    const again = await app.inject(post("/v1/chat/completions", chatBody(), { authorization: "Bearer one" }));
    expect(again.statusCode).toBe(200);
  });
});
