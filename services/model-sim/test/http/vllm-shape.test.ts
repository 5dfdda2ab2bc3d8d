import { type VllmFieldDoc, vllmShapeProblems } from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimServerHandle } from "../../src/server.ts";
import { postJson, startTestServer } from "../helpers.ts";

/**
 * Golden test: model-sim answers with vLLM 0.34's exact response shape, field for field. The field
 * sets come from vLLM's own pydantic models (@inferd/kv-blocks/fixtures/vllm-openai/0.34.0.json,
 * made by packages/kv-blocks/scripts/vllm-golden/openai-fields.sh, which reads the wheel's protocol
 * modules with Python's ast). Non-streaming bodies are `model_dump()`s (every field, null when
 * unset); stream chunks are `model_dump_json(exclude_unset=True)`s (a subset, required ones present).
 */
const fields = (
  await import("@inferd/kv-blocks/fixtures/vllm-openai/0.34.0.json", { with: { type: "json" } })
).default as unknown as VllmFieldDoc;
const MODEL = "Qwen/Qwen3-32B";

/** The `data:` payloads of an SSE body, [DONE] left out. */
async function chunks(url: string, body: unknown): Promise<unknown[]> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.text())
    .split("\n\n")
    .map((e) => e.replace(/^data: /, "").trim())
    .filter((d) => d !== "" && d !== "[DONE]")
    .map((d) => JSON.parse(d) as unknown);
}

describe("http - vLLM 0.34 response shape (golden field sets from vLLM's pydantic models)", () => {
  let sim: SimServerHandle;
  beforeAll(async () => {
    sim = await startTestServer({ enablePromptTokensDetails: true });
  });
  afterAll(async () => {
    await sim?.close();
  });
  const messages = [{ role: "user", content: "Explain prefix caching." }];

  it("http shape - non-streaming chat: ChatCompletionResponse / Choice / ChatMessage / UsageInfo", async () => {
    const r = await postJson(`${sim.url}/v1/chat/completions`, { model: MODEL, messages, max_tokens: 4 });
    expect(r.status).toBe(200);
    expect(vllmShapeProblems(fields, "ChatCompletionResponse", r.json, "full")).toEqual([]);
  });

  it("http shape - non-streaming completions: CompletionResponse / CompletionResponseChoice", async () => {
    const r = await postJson(`${sim.url}/v1/completions`, { model: MODEL, prompt: "Hello", max_tokens: 4 });
    expect(r.status).toBe(200);
    expect(vllmShapeProblems(fields, "CompletionResponse", r.json, "full")).toEqual([]);
  });

  it("http shape - stream chunks of both APIs carry only their models' fields", async () => {
    const stream = { stream: true, stream_options: { include_usage: true }, max_tokens: 4 };
    const chat = await chunks(`${sim.url}/v1/chat/completions`, { model: MODEL, messages, ...stream });
    const text = await chunks(`${sim.url}/v1/completions`, { model: MODEL, prompt: "Hello", ...stream });
    expect(chat.length).toBeGreaterThan(3);
    expect(text.length).toBeGreaterThan(3);
    for (const c of chat)
      expect(vllmShapeProblems(fields, "ChatCompletionStreamResponse", c, "unset")).toEqual([]);
    for (const c of text)
      expect(vllmShapeProblems(fields, "CompletionStreamResponse", c, "unset")).toEqual([]);
  });

  it("http shape - the checker catches a foreign, a missing and a null-when-excluded field", () => {
    const body = {
      id: "x",
      object: "chat.completion",
      created: 1,
      model: MODEL,
      choices: [],
      usage: { prompt_tokens: 1, total_tokens: 1, completion_tokens: 0, prompt_tokens_details: null },
      extra: 1,
    };
    expect(vllmShapeProblems(fields, "ChatCompletionResponse", body, "full")).toEqual(
      expect.arrayContaining([
        "ChatCompletionResponse.extra: not a field of vLLM 0.34.0's ChatCompletionResponse",
        "ChatCompletionResponse.service_tier: missing (vLLM 0.34.0 always sends it here)",
        "ChatCompletionResponse.usage.prompt_tokens_details: vLLM leaves it out when None, got null",
      ]),
    );
  });
});
