import { make, PickOutcome, PickResponseSchema, RequestPhase } from "@inferd/protocol";
import { freePort, waitFor } from "@inferd/testkit";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { PickFn } from "../../src/options.ts";
import { build, endpointOf, type Harness, MODEL } from "../helper.ts";
import { type SimServer, startSim } from "../model-sim.ts";

/** The official openai client against the gateway in front of model-sim. */
describe("openai-client", () => {
  let sim: SimServer;
  let gw: Harness;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSim("sim-a");
  });
  afterAll(() => sim?.process.kill());

  async function setUp(opts: Parameters<typeof build>[0] = {}) {
    gw = await build({ endpoints: [endpointOf(sim)], listen: true, ...opts });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "k", maxRetries: 0 });
  }

  it("openai-client - chat, non-streaming, with usage", async () => {
    await setUp();
    const res = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Tell me about prefix caches." }],
      max_tokens: 5,
    });
    expect(res.object).toBe("chat.completion");
    expect(typeof res.choices[0]!.message.content).toBe("string");
    expect(res.usage?.completion_tokens).toBe(5);
    expect(res.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(res.usage?.total_tokens).toBe(res.usage!.prompt_tokens + 5);
  });

  it("openai-client - chat, streaming, with and without the usage chunk", async () => {
    await setUp();
    const ask = async (includeUsage: boolean) => {
      const stream = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "Stream please." }],
        max_tokens: 6,
        stream: true,
        ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
      });
      const chunks = [];
      for await (const c of stream) chunks.push(c);
      return chunks;
    };
    const plain = await ask(false);
    const content = plain.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? "")).join("");
    expect(content.length).toBeGreaterThan(0);
    expect(plain.every((c) => c.choices.length === 1)).toBe(true);
    expect(plain.some((c) => c.usage)).toBe(false);
    expect(plain.at(-1)!.choices[0]!.finish_reason).toBe("length");
    const withUsage = await ask(true);
    const last = withUsage.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBe(6);
    // The gateway measured the same counts from the stream it relayed.
    const done = gw.events.requests.filter((e) => e.phase === RequestPhase.COMPLETED);
    expect(done.map((e) => e.completionTokens)).toEqual([6, 6]);
    expect(done.every((e) => e.ttftSeconds > 0 && e.stream)).toBe(true);
  });

  it("openai-client - completions, streaming and not", async () => {
    await setUp();
    const res = await client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 4 });
    expect(res.object).toBe("text_completion");
    expect(res.usage?.completion_tokens).toBe(4);
    const stream = await client.completions.create({
      model: MODEL,
      prompt: "Once upon a time",
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? "";
      if (c.usage) usage = c.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBe(4);
  });

  it("openai-client - bad input surfaces as OpenAI error classes", async () => {
    await setUp({ models: { "locked/model": { apiKeys: ["secret"] } } });
    const bad = client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "x" }],
      max_tokens: "lots" as unknown as number,
    });
    await expect(bad).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(bad).rejects.toMatchObject({ status: 400, param: "max_tokens" });
    const missing = client.chat.completions.create({
      model: "no/such-model",
      messages: [{ role: "user", content: "x" }],
    });
    await expect(missing).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(missing).rejects.toMatchObject({ code: "model_not_found" });
    const locked = client.chat.completions.create({
      model: "locked/model",
      messages: [{ role: "user", content: "x" }],
    });
    // A protected model without a key answers like a model that does not exist.
    await expect(locked).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
  });

  it("openai-client - a model server crashing mid-stream raises in the client and is recorded as failed", async () => {
    const crashy = await startSim("crashy", ["--crash-after-tokens", "3"]);
    onTestFinished(() => crashy.process.kill());
    await setUp({ endpoints: [endpointOf(crashy)] });
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "long answer please" }],
      max_tokens: 50,
      stream: true,
    });
    const seen: string[] = [];
    const consume = async () => {
      for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? "");
    };
    await expect(consume()).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(seen.length).toBeGreaterThan(0);
    const failed = gw.events.requests.find((e) => e.phase === RequestPhase.FAILED);
    expect(failed).toMatchObject({ errorCode: "upstream_died", endpoint: "crashy" });
  });

  it("openai-client - a model server refusing connections falls back to the next endpoint", async () => {
    const dead = { pod: "dead", address: `http://127.0.0.1:${await freePort()}` };
    const pick: PickFn = async () =>
      make(PickResponseSchema, {
        outcome: PickOutcome.OK,
        endpoints: [dead, { pod: sim.pod, address: sim.address }],
      });
    await setUp({ pick });
    const res = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 2 })
      .withResponse();
    expect(res.response.headers.get("x-inferd-endpoint")).toBe("sim-a");
    expect(res.data.usage?.completion_tokens).toBe(2);
  });

  it("openai-client - a pool at zero holds the request until a model server is up, then serves it", async () => {
    gw = await build({ endpoints: [], listen: true, models: { [MODEL]: { noEndpointTtlMs: 30_000 } } });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "k", maxRetries: 0 });
    const pending = client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "wake up" }],
      max_tokens: 2,
    });
    await waitFor(() => gw.events.demands.length > 0, { message: "Demand published" });
    const late = await startSim("late");
    onTestFinished(() => late.process.kill());
    gw.inventory.upsert(endpointOf(late));
    gw.app.flowControl.wakeAll();
    const res = await pending;
    expect(res.usage?.completion_tokens).toBe(2);
    const done = gw.events.requests.find((e) => e.phase === RequestPhase.COMPLETED)!;
    expect(done.endpoint).toBe("late");
    expect(done.queueSeconds).toBeGreaterThan(0);
  });

  it("openai-client - prefill/decode against model-sim's NixlConnector: both legs, then the stream", async () => {
    const kvt = ["--kv-transfer-config", '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'];
    const [p, d] = await Promise.all([startSim("prefill-0", kvt), startSim("decode-0", kvt)]);
    onTestFinished(async () => {
      await Promise.all([p.process.kill(), d.process.kill()]);
    });
    const pick: PickFn = async () =>
      make(PickResponseSchema, {
        outcome: PickOutcome.OK,
        endpoints: [{ pod: d.pod, address: d.address }],
        prefill: { pod: p.pod, address: p.address },
      });
    await setUp({ pick, endpoints: [endpointOf(p, { role: "prefill" }), endpointOf(d, { role: "decode" })] });
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: "user", content: "A long shared system prompt that is worth disaggregating. ".repeat(8) },
      ],
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const c of stream) if (c.usage) usage = c.usage;
    expect(usage?.completion_tokens).toBe(5);
    const done = gw.events.requests.find((e) => e.phase === RequestPhase.COMPLETED)!;
    // prefillEndpoint is only set when the prefill leg returned kv_transfer_params.
    expect(done).toMatchObject({ endpoint: "decode-0", prefillEndpoint: "prefill-0" });
    // Two simulators start inside this test (the others share one from beforeAll).
  }, 90_000);

  it("openai-client - under saturation sheddable requests get 429 while critical ones wait and are served", async () => {
    await setUp({ models: { [MODEL]: { maxConcurrencyPerEndpoint: 1, queueTtlMs: 20_000 } } });
    const long = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "occupy the server" }],
      max_tokens: 400,
      stream: true,
    });
    const it = long[Symbol.asyncIterator]();
    await it.next(); // the long stream holds the only slot
    const shed = client.chat.completions.create(
      { model: MODEL, messages: [{ role: "user", content: "batch job" }], max_tokens: 2 },
      { headers: { "x-llm-d-inference-objective": "batch" } },
    );
    await expect(shed).rejects.toMatchObject({ status: 429 });
    await expect(shed).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    const critical = client.chat.completions.create(
      { model: MODEL, messages: [{ role: "user", content: "urgent" }], max_tokens: 2 },
      { headers: { "x-llm-d-inference-objective": "critical" } },
    );
    await waitFor(() => gw.app.flowControl.size(MODEL) === 1, { message: "critical request queued" });
    for (let r = await it.next(); !r.done; r = await it.next());
    const res = await critical;
    expect(res.usage?.completion_tokens).toBe(2);
    const served = gw.events.requests.filter((e) => e.phase === RequestPhase.COMPLETED);
    expect(served.at(-1)!.priority).toBe(100);
    expect(served.at(-1)!.queueSeconds).toBeGreaterThan(0);
  });
});
