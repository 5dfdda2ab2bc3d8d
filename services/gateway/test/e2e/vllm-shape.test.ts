import { type VllmFieldDoc, vllmShapeProblems } from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, endpointOf, MODEL } from "../helper.ts";
import { type SimServer, startSim } from "../model-sim.ts";

/**
 * Golden test: what a client gets through the gateway has vLLM 0.34's response shape field for
 * field, whether the gateway passes the server's answer through or assembles a non-streaming answer
 * from the stream it asked for (the default, for FIRST_TOKEN). Field sets from vLLM's own pydantic
 * models: @inferd/kv-blocks/fixtures/vllm-openai/0.34.0.json (packages/kv-blocks/scripts/vllm-golden/
 * openai-fields.sh reads them from the wheel's protocol modules with Python's ast).
 */
const fields = (
  await import("@inferd/kv-blocks/fixtures/vllm-openai/0.34.0.json", { with: { type: "json" } })
).default as unknown as VllmFieldDoc;

async function post(url: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

const messages = [{ role: "user", content: "Explain prefix caching." }];
const requests = [
  { path: "/v1/chat/completions", model: "ChatCompletionResponse", body: { model: MODEL, messages } },
  { path: "/v1/completions", model: "CompletionResponse", body: { model: MODEL, prompt: "Hello there" } },
] as const;

describe("gateway - vLLM 0.34 response shape passes through (golden field sets)", () => {
  let sim: SimServer;
  beforeAll(async () => {
    sim = await startSim("sim-shape", ["--enable-prompt-tokens-details"]);
  });
  afterAll(() => sim?.process.kill());

  for (const assemble of [true, false]) {
    it(`vllm shape - non-streaming answers, ${assemble ? "assembled from the stream" : "passed through"}`, async () => {
      const gw = await build({
        endpoints: [endpointOf(sim)],
        listen: true,
        models: { [MODEL]: { assembleNonStreaming: assemble } },
      });
      for (const r of requests) {
        const body = { ...r.body, max_tokens: 4 };
        const via = await post(`${gw.url}${r.path}`, body);
        expect(via.status).toBe(200);
        const json = JSON.parse(via.text) as Record<string, unknown>;
        expect(vllmShapeProblems(fields, r.model, json, "full")).toEqual([]);
        // The same answer the server gives directly, field for field (ids and text aside).
        const direct = JSON.parse((await post(`${sim.address}${r.path}`, body)).text) as Record<
          string,
          unknown
        >;
        const skeleton = (v: unknown): unknown =>
          Array.isArray(v)
            ? v.map(skeleton)
            : typeof v === "object" && v !== null
              ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, skeleton(x)]))
              : v === null
                ? null
                : typeof v;
        expect(skeleton(json)).toEqual(skeleton(direct));
      }
    });
  }

  it("vllm shape - stream chunks through the gateway keep their models' fields", async () => {
    const gw = await build({ endpoints: [endpointOf(sim)], listen: true });
    const stream = { stream: true, stream_options: { include_usage: true }, max_tokens: 4 };
    for (const [path, model, body] of [
      ["/v1/chat/completions", "ChatCompletionStreamResponse", { model: MODEL, messages, ...stream }],
      ["/v1/completions", "CompletionStreamResponse", { model: MODEL, prompt: "Hello", ...stream }],
    ] as const) {
      const r = await post(`${gw.url}${path}`, body);
      expect(r.status).toBe(200);
      const chunks = r.text
        .split("\n\n")
        .map((e) => e.replace(/^data: /, "").trim())
        .filter((d) => d !== "" && d !== "[DONE]");
      expect(chunks.length).toBeGreaterThan(3);
      for (const c of chunks) expect(vllmShapeProblems(fields, model, JSON.parse(c), "unset")).toEqual([]);
    }
  });
});
