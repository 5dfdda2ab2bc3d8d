import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimServerHandle } from "../../src/server.ts";
import { postJson, startTestServer } from "../helpers.ts";

// A SentencePiece-style tokenizer (BOS added to completions, Mistral-like chat template), not Qwen3's.
const TINY = dirname(
  fileURLToPath(import.meta.resolve("@inferd/kv-blocks/fixtures/tokenizers/tiny-llama/tokenizer.json")),
);
const { families } = (
  await import("@inferd/kv-blocks/fixtures/tokenizers/family-vectors.json", { with: { type: "json" } })
).default as unknown as {
  families: {
    name: string;
    texts: { text: string; ids: number[]; completionIds: number[] }[];
    chats: { request: Record<string, unknown>; ids: number[] }[];
  }[];
};
const tiny = families.find((f) => f.name === "tiny-llama")!;
const MODEL = "acme/tiny-llama";

describe("model-sim tokenizer endpoints with a non-Qwen tokenizer (--tokenizer DIR)", () => {
  let sim: SimServerHandle;
  beforeAll(async () => {
    sim = await startTestServer({ model: MODEL, servedModelNames: [MODEL], tokenizerPath: TINY });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it("POST /tokenize: completions prompt with and without special tokens, token strings", async () => {
    const t = tiny.texts[1]!; // "Hello world"
    const r = await postJson(`${sim.url}/tokenize`, {
      model: MODEL,
      prompt: t.text,
      return_token_strs: true,
    });
    expect(r.status).toBe(200);
    expect(r.json.tokens).toEqual(t.completionIds);
    expect(r.json.count).toBe(t.completionIds.length);
    expect(r.json.token_strs[0]).toBe("<s>");
    expect(r.json.max_model_len).toBeGreaterThan(0);
    const plain = await postJson(`${sim.url}/tokenize`, {
      model: MODEL,
      prompt: t.text,
      add_special_tokens: false,
    });
    expect(plain.json.tokens).toEqual(t.ids);
    expect(plain.json.token_strs).toBeNull();
  });

  it("POST /tokenize with messages applies the whole chat request to the template, as vLLM", async () => {
    for (const c of tiny.chats) {
      const r = await postJson(`${sim.url}/tokenize`, { model: MODEL, ...c.request });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.json.tokens).toEqual(c.ids);
    }
  });

  it("POST /detokenize inverts /tokenize; an unknown model is vLLM's 404", async () => {
    const text = "the cache prefix router"; // HF tokenizers decodes [469, 402, 414, 459] to it
    const ids = (
      await postJson(`${sim.url}/tokenize`, { model: MODEL, prompt: text, add_special_tokens: false })
    ).json.tokens;
    expect(ids).toEqual([469, 402, 414, 459]);
    const r = await postJson(`${sim.url}/detokenize`, { model: MODEL, tokens: ids });
    expect(r.json.prompt).toBe(text);
    expect((await postJson(`${sim.url}/detokenize`, { model: MODEL, tokens: [-1] })).status).toBe(400);
    expect((await postJson(`${sim.url}/tokenize`, { model: "nope", prompt: "x" })).status).toBe(404);
  });

  it("render endpoints return vLLM GenerateRequests with the engine's prompt ids", async () => {
    const c = tiny.chats[2]!; // tools + tool calls in history
    const chat = await postJson(`${sim.url}/v1/chat/completions/render`, {
      model: MODEL,
      ...c.request,
      max_tokens: 7,
      cache_salt: "s1",
    });
    expect(chat.status).toBe(200);
    expect(chat.json.token_ids).toEqual(c.ids);
    expect(chat.json.request_id).toMatch(/^chatcmpl-/);
    expect(chat.json.sampling_params.max_tokens).toBe(7);
    expect(chat.json.cache_salt).toBe("s1");
    expect(chat.json.model).toBe(MODEL);
    const t = tiny.texts[2]!;
    const cmpl = await postJson(`${sim.url}/v1/completions/render`, { model: MODEL, prompt: t.text });
    expect(cmpl.status).toBe(200);
    expect(cmpl.json).toHaveLength(1);
    expect(cmpl.json[0].token_ids).toEqual(t.completionIds);
    const two = await postJson(`${sim.url}/v1/completions/render`, { model: MODEL, prompt: ["a b", "c"] });
    expect(two.json).toHaveLength(2);
  });

  it("serves chat completions whose prompt_tokens equal the tokenizer's count", async () => {
    const c = tiny.chats[0]!;
    const r = await postJson(`${sim.url}/v1/chat/completions`, { model: MODEL, ...c.request, max_tokens: 3 });
    expect(r.status).toBe(200);
    expect(r.json.usage.prompt_tokens).toBe(c.ids.length);
  });
});
