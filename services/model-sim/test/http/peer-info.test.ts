import { afterEach, describe, expect, it } from "vitest";
import type { SimServerHandle } from "../../src/server.ts";
import { startTestServer } from "../helpers.ts";

const MODEL = "Qwen/Qwen3-32B";

async function getJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe("worker info for sglang-router and vllm-router", () => {
  const servers: SimServerHandle[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it("model and server info name the model and the KV capacity under both routers' paths", async () => {
    const sim = await startTestServer({ numGpuBlocksOverride: 2000, blockSize: 16 });
    servers.push(sim);
    for (const path of ["/get_model_info", "/model_info"]) {
      const info = await getJson(`${sim.url}${path}`);
      expect(info.model_path).toBe(MODEL);
      expect(info.is_generation).toBe(true);
    }
    for (const path of ["/get_server_info", "/server_info"]) {
      const info = await getJson(`${sim.url}${path}`);
      expect(info.model_id).toBe(MODEL);
      expect(info.page_size).toBe(16);
      expect(info.max_total_num_tokens).toBe(32_000);
      expect(info.dp_size).toBe(1);
    }
  });

  it("/get_load counts the requests in the engine", async () => {
    // A long generation keeps the request in the engine while /get_load is read.
    const sim = await startTestServer();
    servers.push(sim);
    expect((await getJson(`${sim.url}/get_load`)).load).toBe(0);
    const ctl = new AbortController();
    const res = await fetch(`${sim.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: MODEL,
        prompt: "hello",
        max_tokens: 10_000,
        ignore_eos: true,
        stream: true,
      }),
      signal: ctl.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read(); // the first chunk: the request is running
    const load = await getJson(`${sim.url}/get_load`);
    expect(load.load).toBe(1);
    expect(load.num_reqs).toBe(1);
    ctl.abort();
    await reader.cancel().catch(() => undefined);
  });
});
