import { createHash } from "node:crypto";
import { describe, expect, it, onTestFinished } from "vitest";
import { startFakeUpstream } from "../../fake-upstream.ts";
import { build, chatBody, endpointOf, MODEL } from "../../helper.ts";

const sha256hex = (k: string) => createHash("sha256").update(k).digest("hex");

describe("errors", () => {
  async function app(opts: Parameters<typeof build>[0] = {}) {
    const up = await startFakeUpstream("sim-a");
    onTestFinished(() => up.close());
    return (await build({ endpoints: [endpointOf(up)], ...opts })).app;
  }

  const post = (url: string, payload: string, headers: Record<string, string> = {}) => ({
    method: "POST" as const,
    url,
    payload,
    headers: { "content-type": "application/json", ...headers },
  });

  it("errors - malformed JSON is a 400 in OpenAI shape", async () => {
    const res = await (await app()).inject(post("/v1/chat/completions", '{"model": '));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { type: "invalid_request_error", code: "invalid_json" } });
  });

  it("errors - missing model and missing messages name the field", async () => {
    const a = await app();
    const noModel = await a.inject(
      post("/v1/chat/completions", JSON.stringify({ messages: [{ role: "user", content: "x" }] })),
    );
    expect(noModel.statusCode).toBe(400);
    expect(noModel.json().error).toMatchObject({ param: "model", type: "invalid_request_error" });
    const noPrompt = await a.inject(post("/v1/completions", JSON.stringify({ model: MODEL })));
    expect(noPrompt.statusCode).toBe(400);
    expect(noPrompt.json().error.param).toBe("prompt");
  });

  it("errors - wrong field types are a 400 and never coerced", async () => {
    const a = await app();
    for (const bad of [
      { max_tokens: "5" },
      { stream: "yes" },
      { temperature: "hot" },
      { messages: "hi" },
      { model: 7 },
    ]) {
      const res = await a.inject(post("/v1/chat/completions", JSON.stringify(chatBody(bad))));
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
      expect(res.json().error.param).toBe(Object.keys(bad)[0]);
    }
  });

  it("errors - an unknown model is a 404 model_not_found", async () => {
    const res = await (await app()).inject(
      post("/v1/chat/completions", JSON.stringify(chatBody({ model: "nope" }))),
    );
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatchObject({ code: "model_not_found", param: "model" });
  });

  it("errors - a body over the limit is a 413", async () => {
    const a = await app({ bodyLimitBytes: 2048 });
    const res = await a.inject(
      post(
        "/v1/chat/completions",
        JSON.stringify(chatBody({ messages: [{ role: "user", content: "x".repeat(4096) }] })),
      ),
    );
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe("request_too_large");
  });

  it("errors - a malformed SLO header is a 400 naming it", async () => {
    const res = await (await app()).inject(
      post("/v1/chat/completions", JSON.stringify(chatBody()), { "x-llm-d-slo-ttft-ms": "fast" }),
    );
    expect(res.statusCode).toBe(400);
    expect(res.json().error.param).toBe("x-llm-d-slo-ttft-ms");
  });

  it("errors - per-model API keys: a missing or wrong key gets the unknown-model answer, the right one passes", async () => {
    const a = await app({ models: { [MODEL]: { apiKeys: ["k1", `sha256:${sha256hex("k2")}`] } } });
    const body = JSON.stringify(chatBody());
    const unknown = await a.inject(post("/v1/chat/completions", JSON.stringify(chatBody({ model: "nope" }))));
    const missing = await a.inject(post("/v1/chat/completions", body));
    const wrong = await a.inject(post("/v1/chat/completions", body, { authorization: "Bearer nope" }));
    for (const r of [missing, wrong]) {
      expect(r.statusCode).toBe(404);
      // Byte for byte the answer for a model that does not exist (but for the name).
      expect(r.body).toBe(unknown.body.replaceAll("nope", MODEL));
    }
    expect(
      (await a.inject(post("/v1/chat/completions", body, { authorization: "Bearer k1" }))).statusCode,
    ).toBe(200);
    expect(
      (await a.inject(post("/v1/chat/completions", body, { authorization: "Bearer k2" }))).statusCode,
    ).toBe(200);
  });

  it("errors - unknown routes are a 404 in OpenAI shape", async () => {
    const res = await (await app()).inject({ method: "GET", url: "/v1/nothing" });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.type).toBe("invalid_request_error");
  });
});
