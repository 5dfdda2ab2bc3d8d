import { type RequestEvent, RequestPhase, timestampMs } from "@inferd/protocol";
import { request } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import { startFakeUpstream } from "../../fake-upstream.ts";
import { build, chatBody, endpointOf, MODEL } from "../../helper.ts";

async function fake(pod = "sim-a") {
  const f = await startFakeUpstream(pod);
  onTestFinished(() => f.close());
  return f;
}

describe("chat-completions", () => {
  it("chat-completions - non-streaming answer passes through with request id, endpoint and lifecycle events", async () => {
    const up = await fake();
    const { app, events } = await build({ endpoints: [endpointOf(up)] });
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "x-request-id": "req-1", "x-llm-d-inference-objective": "critical", "x-session-id": "s" },
      payload: chatBody(),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-request-id"]).toBe("req-1");
    const internal = res.headers["x-inferd-request-id"];
    expect(internal).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers["x-inferd-endpoint"]).toBe("sim-a");
    expect(Buffer.from(String(res.headers["x-session-token"]), "base64").toString()).toBe("sim-a");
    const body = res.json();
    expect(body.choices[0].message.content).toBe("w0 w1 w2 ");
    expect(body.usage.completion_tokens).toBe(3);
    // The model server saw the same body, as a stream (so the first token is seen), and the
    // gateway's own request id; the client got the assembled non-streaming answer.
    expect(up.received[0]!.body).toEqual({
      ...chatBody(),
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0]).toMatchObject({ index: 0, finish_reason: "length" });
    expect(up.received[0]!.headers["x-request-id"]).toBe(internal);
    expect(events.last("req-1")!.requestId).toBe(internal);
    // FIRST_TOKEN although the client did not stream: the scorers stop counting the prefill as
    // queued and learn its TTFT.
    expect(events.phases("req-1")).toEqual([
      RequestPhase.ADMITTED,
      RequestPhase.ROUTED,
      RequestPhase.FIRST_TOKEN,
      RequestPhase.COMPLETED,
    ]);
    expect(events.of("req-1")[2]!.ttftSeconds).toBeGreaterThan(0);
    const done = events.last("req-1")!;
    expect(done).toMatchObject({
      endpoint: "sim-a",
      priority: 100,
      sessionId: "s",
      promptTokens: 7,
      completionTokens: 3,
      httpStatus: 200,
      stream: false,
      maxTokens: 3,
    });
    expect(done.e2eSeconds).toBeGreaterThan(0);
  });

  it("chat-completions - a non-streaming answer whose server dies mid-way is a 502, not a truncated body", async () => {
    const up = await fake();
    up.behaviour.dieAfterChunks = 1;
    const { app, events } = await build({ endpoints: [endpointOf(up)] });
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "x-request-id": "died" },
      payload: chatBody(),
    });
    expect(res.statusCode).toBe(502);
    expect(res.json().error.code).toBe("upstream_died");
    expect(events.last("died")).toMatchObject({ phase: RequestPhase.FAILED, errorCode: "upstream_died" });
  });

  it("chat-completions - assembleNonStreaming: false, or a body that cannot be assembled, goes upstream unchanged", async () => {
    const up = await fake();
    const { app, events } = await build({
      endpoints: [endpointOf(up)],
      models: { other: {}, [MODEL]: { assembleNonStreaming: false } },
    });
    const res = await app.inject({ method: "POST", url: "/v1/chat/completions", payload: chatBody() });
    expect(res.statusCode).toBe(200);
    expect(up.received[0]!.body).toEqual(chatBody());
    expect(events.requests.map((e) => e.phase)).not.toContain(RequestPhase.FIRST_TOKEN);
    const { app: app2 } = await build({ endpoints: [endpointOf(up)] });
    await app2.inject({
      method: "POST",
      url: "/v1/chat/completions",
      payload: chatBody({ prompt_logprobs: 1 }),
    });
    expect(up.received[1]!.body.stream).toBeUndefined();
  });

  it("chat-completions - two concurrent requests with one x-request-id are two requests", async () => {
    const up = await fake();
    const { app, events } = await build({ endpoints: [endpointOf(up)] });
    const send = () =>
      app.inject({
        method: "POST",
        url: "/v1/chat/completions",
        headers: { "x-request-id": "reused" },
        payload: chatBody(),
      });
    const [a, b] = await Promise.all([send(), send()]);
    expect([a.headers["x-request-id"], b.headers["x-request-id"]]).toEqual(["reused", "reused"]);
    expect(a.headers["x-inferd-request-id"]).not.toBe(b.headers["x-inferd-request-id"]);
    const ids = new Set(events.of("reused").map((e) => e.requestId));
    expect(ids).toEqual(new Set([a.headers["x-inferd-request-id"], b.headers["x-inferd-request-id"]]));
    for (const id of ids)
      expect(events.phases(id as string)).toEqual([
        RequestPhase.ADMITTED,
        RequestPhase.ROUTED,
        RequestPhase.FIRST_TOKEN,
        RequestPhase.COMPLETED,
      ]);
  });

  it("chat-completions - Authorization, trace context and the user's headers go upstream, hop-by-hop ones do not", async () => {
    const up = await fake();
    const { app } = await build({ endpoints: [endpointOf(up)] });
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: {
        authorization: "Bearer user-key",
        traceparent,
        tracestate: "v=1",
        "x-user-thing": "yes",
        connection: "keep-alive, x-one-hop",
        "x-one-hop": "no",
        "keep-alive": "timeout=5",
        "proxy-authorization": "Basic eA==",
      },
      payload: chatBody(),
    });
    const h = up.received[0]!.headers;
    expect(h.authorization).toBe("Bearer user-key");
    expect([h.traceparent, h.tracestate, h["x-user-thing"]]).toEqual([traceparent, "v=1", "yes"]);
    expect([h["x-one-hop"], h["keep-alive"], h["proxy-authorization"]]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("chat-completions - a model's upstreamApiKey replaces the client's key (vLLM --api-key)", async () => {
    const up = await fake();
    const { app } = await build({
      endpoints: [endpointOf(up)],
      models: { [MODEL]: { apiKeys: ["gateway-key"], upstreamApiKey: "vllm-key" } },
    });
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { authorization: "Bearer gateway-key" },
      payload: chatBody(),
    });
    expect(res.statusCode).toBe(200);
    expect(up.received[0]!.headers.authorization).toBe("Bearer vllm-key");
  });

  it("chat-completions - lifecycle events are built when published, from what was true when they happened", async () => {
    const up = await fake();
    // A sink that publishes later, as the NATS sink does (after the upstream request is written).
    const later: { at: number; build: () => RequestEvent }[] = [];
    const sink = {
      requestEvent(_model: string, event: RequestEvent | (() => RequestEvent)) {
        later.push({ at: Date.now(), build: typeof event === "function" ? event : () => event });
      },
      demand() {},
    };
    const { app } = await build({ endpoints: [endpointOf(up)], eventSink: sink });
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "x-request-id": "late-1" },
      payload: chatBody({ stream: true }),
    });
    expect(res.statusCode).toBe(200);
    // Built only now, after the request finished: the ADMITTED event still has no endpoint and each
    // event carries the time it happened.
    const built = later.map((l) => ({ at: l.at, event: l.build() }));
    expect(built.map((b) => b.event.phase)).toEqual([
      RequestPhase.ADMITTED,
      RequestPhase.ROUTED,
      RequestPhase.FIRST_TOKEN,
      RequestPhase.COMPLETED,
    ]);
    expect(built[0]!.event).toMatchObject({ clientRequestId: "late-1", endpoint: "", stream: true });
    expect(built[1]!.event.endpoint).toBe("sim-a");
    for (const b of built) {
      const ms = timestampMs(b.event.time!);
      expect(ms).toBeLessThanOrEqual(b.at);
      expect(ms).toBeGreaterThanOrEqual(b.at - 1_000);
    }
  });

  it("chat-completions - the model server gets the client's own body bytes, with every rewrite the gateway makes", async () => {
    const up = await fake();
    const { url } = await build({ endpoints: [endpointOf(up)], listen: true });
    const send = async (text: string | Buffer) => {
      const res = await request(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: text,
      });
      expect(res.statusCode).toBe(200);
      await res.body.text();
      return up.received.at(-1)!;
    };
    const messages = '[{"role": "user", "content": "h\\u00e9llo \u00e9 \\ud83d\\ude00"}]';
    // Streaming, usage asked for: byte for byte (spacing, escapes, number spelling, big integers).
    const asked = `{ "model": "${MODEL}", "messages": ${messages}, "stream": true,\n "max_tokens": 3.0, "seed": 12345678901234567890, "stream_options": {"include_usage": true} }\n`;
    expect((await send(asked)).bytes.toString("utf8")).toBe(asked);
    // Streaming without stream_options: the usage member appended, the rest as sent.
    const plain = `{"model": "${MODEL}", "messages": ${messages}, "stream": true, "max_tokens": 3}`;
    expect((await send(plain)).bytes.toString("utf8")).toBe(
      `${plain.slice(0, -1)},"stream_options":{"include_usage":true}}`,
    );
    // stream_options to merge into: re-serialised with include_usage added to the client's options.
    const merge = `{"model": "${MODEL}", "messages": ${messages}, "stream": true, "max_tokens": 3, "stream_options": {"continuous_usage_stats": false}}`;
    const merged = await send(merge);
    expect(merged.body.stream_options).toEqual({ continuous_usage_stats: false, include_usage: true });
    expect(merged.bytes.toString("utf8")).toBe(JSON.stringify(merged.body));
    // Non-streaming, assembled: sent as a stream (re-serialised).
    const unary = await send(`{"model": "${MODEL}", "messages": ${messages}, "max_tokens": 3}`);
    expect(unary.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(unary.body.messages).toEqual([{ role: "user", content: "h\u00e9llo \u00e9 \ud83d\ude00" }]);
    // Bytes that are not UTF-8: the model server gets what the gateway read (U+FFFD), as valid UTF-8.
    const bad = Buffer.concat([
      Buffer.from(
        `{"model": "${MODEL}", "stream": true, "max_tokens": 3, "messages": [{"role": "user", "content": "a`,
      ),
      Buffer.from([0xff]),
      Buffer.from('"}], "stream_options": {"include_usage": true}}'),
    ]);
    const replaced = await send(bad);
    expect(replaced.body.messages).toEqual([{ role: "user", content: "a\ufffd" }]);
    expect(replaced.bytes.toString("utf8")).toBe(JSON.stringify(replaced.body));
  });

  it("chat-completions - streaming chunks arrive unchanged; the usage chunk is hidden unless asked for", async () => {
    const up = await fake();
    up.behaviour.cachedTokens = 4;
    const { url, events } = await build({ endpoints: [endpointOf(up)], listen: true });
    const post = async (extra: Record<string, unknown>, id: string) => {
      const res = await request(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": id },
        body: JSON.stringify(chatBody({ stream: true, ...extra })),
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toContain("text/event-stream");
      return (await res.body.text()).split("\n\n").filter(Boolean);
    };
    const plain = await post({}, "s-1");
    // role chunk + 3 content chunks + [DONE]; upstream was asked for usage, client did not.
    expect(plain).toHaveLength(5);
    expect(plain.at(-1)).toBe("data: [DONE]");
    expect(plain.some((e) => e.includes('"choices":[]'))).toBe(false);
    expect((up.received[0]!.body.stream_options as { include_usage: boolean }).include_usage).toBe(true);
    const withUsage = await post({ stream_options: { include_usage: true } }, "s-2");
    expect(withUsage).toHaveLength(6);
    expect(JSON.parse(withUsage[4]!.slice(6)).usage.prompt_tokens_details.cached_tokens).toBe(4);
    for (const id of ["s-1", "s-2"]) {
      expect(events.phases(id)).toEqual([
        RequestPhase.ADMITTED,
        RequestPhase.ROUTED,
        RequestPhase.FIRST_TOKEN,
        RequestPhase.COMPLETED,
      ]);
      expect(events.last(id)).toMatchObject({ completionTokens: 3, cachedTokens: 4, stream: true });
      expect(events.last(id)!.ttftSeconds).toBeGreaterThan(0);
    }
  });

  it("chat-completions - ITL statistics come from chunk arrival times", async () => {
    const up = await fake();
    up.behaviour.delayMs = 20;
    up.behaviour.tokens = 4;
    const { url, events } = await build({ endpoints: [endpointOf(up)], listen: true });
    const res = await request(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "itl" },
      body: JSON.stringify(chatBody({ stream: true })),
    });
    await res.body.text();
    const ev = events.last("itl")!;
    expect(ev.phase).toBe(RequestPhase.COMPLETED);
    expect(ev.itlMeanSeconds).toBeGreaterThan(0.01);
    expect(ev.itlMaxSeconds).toBeGreaterThanOrEqual(ev.itlP90Seconds);
  });

  it("chat-completions - LoRA adapters route to endpoints that hold them", async () => {
    const plain = await fake("plain");
    const lora = await fake("lora");
    const { app } = await build({
      endpoints: [endpointOf(plain), endpointOf(lora, { loraAdapters: ["sql-lora"] })],
    });
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({
        method: "POST",
        url: "/v1/chat/completions",
        payload: chatBody({ model: "sql-lora" }),
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers["x-inferd-endpoint"]).toBe("lora");
    }
    expect(lora.received.every((r) => r.body.model === "sql-lora")).toBe(true);
    expect(plain.received).toHaveLength(0);
  });

  it("chat-completions - a model server's own error status and body pass through", async () => {
    const up = await fake();
    up.behaviour.status = 400;
    const { app, events } = await build({ endpoints: [endpointOf(up)] });
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "x-request-id": "e" },
      payload: chatBody(),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toContain("fake sim-a says 400");
    expect(events.last("e")).toMatchObject({
      phase: RequestPhase.FAILED,
      errorCode: "upstream_400",
      httpStatus: 400,
    });
  });

  it("chat-completions - model is read from the body for the whole path", async () => {
    const up = await fake();
    const { app } = await build({ endpoints: [endpointOf(up)] });
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      payload: chatBody({ model: MODEL, temperature: 0.5, extra_vllm_param: { x: 1 } }),
    });
    expect(res.statusCode).toBe(200);
    expect(up.received[0]!.body.extra_vllm_param).toEqual({ x: 1 });
  });
});
