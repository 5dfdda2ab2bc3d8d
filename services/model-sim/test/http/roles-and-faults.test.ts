import { freePortRange, waitFor } from "@inferd/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { startFleet } from "../../src/fleet.ts";
import { parseKvEventsConfig } from "../../src/kv-events/config.ts";
import type { SimServerHandle } from "../../src/server.ts";
import { postJson, silent, startTestServer } from "../helpers.ts";

const MODEL = "Qwen/Qwen3-32B";
const NIXL = { kvConnector: "NixlConnector", kvRole: "kv_both", engineId: null };
const prompt = Array.from({ length: 3000 }, (_, i) => 500 + (i % 7000));

describe("roles and faults", () => {
  const servers: SimServerHandle[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it("pd - prefill returns NixlConnector params; decode skips prefill and pays the transfer time", async () => {
    const prefill = await startTestServer({ kvTransferConfig: NIXL });
    const decode = await startTestServer({
      kvTransferConfig: NIXL,
      enablePromptTokensDetails: true,
      kvTransferLatencyMs: 40,
      kvTransferTimePerTokenUs: 0,
    });
    servers.push(prefill, decode);
    const p = await postJson(`${prefill.url}/v1/completions`, {
      model: MODEL,
      prompt,
      max_tokens: 1,
      kv_transfer_params: {
        do_remote_decode: true,
        do_remote_prefill: false,
        remote_engine_id: null,
        remote_block_ids: null,
        remote_host: null,
        remote_port: null,
      },
    });
    expect(p.status).toBe(200);
    const kv = p.json.kv_transfer_params;
    expect(kv).toMatchObject({
      do_remote_prefill: true,
      do_remote_decode: false,
      tp_size: 1,
      remote_num_tokens: 3000,
    });
    expect(kv.remote_block_ids).toHaveLength(1);
    expect(kv.remote_block_ids[0]).toHaveLength(Math.ceil(3001 / 16));
    expect(typeof kv.remote_engine_id).toBe("string");
    expect(typeof kv.remote_request_id).toBe("string");
    // The prefill server holds the blocks until the (modelled) pull is over, then frees them.
    await waitFor(() => prefill.engine.pool.freeBlocks === prefill.engine.pool.capacity, {
      message: "blocks never freed",
    });

    let prefillTokens = 0;
    let ttftMs = 0;
    decode.engine.addObserver({
      onStep: (s) => (prefillTokens += s.prefillTokens),
      onFirstToken: (_r, t) => (ttftMs = t),
    });
    const d = await postJson(`${decode.url}/v1/completions`, {
      model: MODEL,
      prompt,
      max_tokens: 5,
      kv_transfer_params: kv,
    });
    expect(d.status).toBe(200);
    expect(d.json.usage.completion_tokens).toBe(5);
    expect(d.json.kv_transfer_params).toBeNull();
    // Only the prompt's last token is recomputed on the decode side.
    expect(prefillTokens).toBe(1);
    expect(ttftMs).toBeGreaterThanOrEqual(40);
    // The received blocks are cached on the decode server (a follow-up hits them).
    const again = await postJson(`${decode.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 1 });
    expect(again.json.usage.prompt_tokens_details.cached_tokens).toBe(Math.floor(2999 / 16) * 16);
  });

  it("pd - a streamed prefill carries kv_transfer_params on the chunk with finish_reason (vLLM 0.34)", async () => {
    const prefill = await startTestServer({ kvTransferConfig: NIXL });
    servers.push(prefill);
    const res = await fetch(`${prefill.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: MODEL,
        prompt: prompt.slice(0, 100),
        max_tokens: 1,
        stream: true,
        kv_transfer_params: { do_remote_decode: true, do_remote_prefill: false },
      }),
    });
    const chunks = (await res.text())
      .split("\n\n")
      .filter((l) => l.startsWith("data: {"))
      .map((l) => JSON.parse(l.slice(6)));
    const last = chunks.at(-1)!;
    expect(last.choices[0].finish_reason).toBe("length");
    expect(last.kv_transfer_params).toMatchObject({ do_remote_prefill: true, remote_num_tokens: 100 });
    for (const c of chunks.slice(0, -1)) expect(c.kv_transfer_params ?? null).toBeNull();
  });

  it("pd - without --kv-transfer-config the params are ignored, as vLLM does", async () => {
    const s = await startTestServer();
    servers.push(s);
    const r = await postJson(`${s.url}/v1/completions`, {
      model: MODEL,
      prompt: "hi",
      max_tokens: 1,
      kv_transfer_params: { do_remote_decode: true },
    });
    expect(r.json.kv_transfer_params).toBeNull();
  });

  it("faults - a 100% failure rate answers with the configured status codes", async () => {
    const s = await startTestServer({ failureRate: 100, failureStatusCodes: [429] });
    servers.push(s);
    const r = await postJson(`${s.url}/v1/chat/completions`, {
      model: MODEL,
      messages: [{ role: "user", content: "x" }],
    });
    expect(r.status).toBe(429);
    expect(r.json.error.type).toBe("RateLimitError");
  });

  it("faults - startup delay keeps /health at 503 until the model is loaded", async () => {
    const s = await startTestServer({ startupDelayMs: 300 });
    servers.push(s);
    expect((await fetch(`${s.url}/health`)).status).toBe(503);
    const early = await postJson(`${s.url}/v1/completions`, { model: MODEL, prompt: "x", max_tokens: 1 });
    expect(early.status).toBe(503);
    await waitFor(async () => (await fetch(`${s.url}/health`)).status === 200, {
      message: "never became ready",
    });
    const late = await postJson(`${s.url}/v1/completions`, { model: MODEL, prompt: "x", max_tokens: 1 });
    expect(late.status).toBe(200);
  });

  it("faults - crash after N tokens drops streams and stops serving", async () => {
    let crashed = false;
    const s = await startTestServer({ crashAfterTokens: 10, onCrash: () => (crashed = true) });
    servers.push(s);
    const res = await fetch(`${s.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, prompt: "x", max_tokens: 100, ignore_eos: true, stream: true }),
    });
    await expect(res.text()).rejects.toThrow();
    await waitFor(() => crashed, { message: "no crash" });
    expect(s.crashed()).toBe(true);
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
  });

  it("fleet - N servers on consecutive ports, each with its own pod, metrics and event port", async () => {
    const base = await freePortRange(3);
    const events = await freePortRange(3);
    const fleet = await startFleet({
      fleet: 3,
      port: base,
      podName: "sim-{i}",
      profile: "tiny-fast",
      numGpuBlocksOverride: 500,
      pythonHashSeed: "0",
      logger: silent,
      kvEventsConfig: parseKvEventsConfig(
        JSON.stringify({
          enable_kv_cache_events: true,
          endpoint: `tcp://*:${events}`,
          topic: "kv@{pod}@{model}",
        }),
      ),
    });
    servers.push(...fleet.servers);
    expect(fleet.servers.map((s) => s.port)).toEqual([base, base + 1, base + 2]);
    expect(fleet.servers.map((s) => s.podName)).toEqual(["sim-0", "sim-1", "sim-2"]);
    expect(fleet.servers.map((s) => s.kvEventsEndpoint)).toEqual(
      [0, 1, 2].map((i) => `tcp://127.0.0.1:${events + i}`),
    );
    expect(fleet.servers[2]!.kvEventsTopic).toBe(`kv@sim-2@${MODEL}`);
    const r = await postJson(`${fleet.servers[1]!.url}/v1/completions`, {
      model: MODEL,
      prompt: "abc",
      max_tokens: 2,
    });
    expect(r.headers.get("x-inference-pod")).toBe("sim-1");
    const gen = async (i: number) => {
      const text = await (await fetch(`${fleet.servers[i]!.url}/metrics`)).text();
      return Number(/vllm:generation_tokens_total\{[^}]*\} (\d+)/.exec(text)![1]);
    };
    expect([await gen(0), await gen(1), await gen(2)]).toEqual([0, 2, 0]);
    await fleet.close();
  });

  it("fleet - overlapping event and replay port ranges are refused before anything starts", async () => {
    await expect(
      startFleet({
        fleet: 4,
        port: 0,
        logger: silent,
        kvEventsConfig: parseKvEventsConfig(
          JSON.stringify({
            enable_kv_cache_events: true,
            endpoint: "tcp://*:5557",
            replay_endpoint: "tcp://*:5558",
          }),
        ),
      }),
    ).rejects.toThrow(/5557\.\.5560 overlap kv-events replay_endpoint ports 5558\.\.5561/);
  });
});
