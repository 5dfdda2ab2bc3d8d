import { waitFor } from "@inferd/testkit";
import { afterEach, describe, expect, it } from "vitest";
import type { SimServerHandle } from "../../src/server.ts";
import { postJson, startTestServer } from "../helpers.ts";

const MODEL = "Qwen/Qwen3-32B";

describe("POST /reset_prefix_cache", () => {
  const servers: SimServerHandle[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it("reset - refused under load unless reset_running_requests=true, which preempts and still answers whole", async () => {
    // The Qwen3-32B profile's ~20 ms decode steps keep the request running while the test posts.
    const sim = await startTestServer({ profile: "qwen3-32b-h100-tp2" });
    servers.push(sim);
    const prompt = Array.from({ length: 1000 }, (_, i) => 500 + i);
    const answer = postJson(`${sim.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 120 });
    await waitFor(() => sim.engine.numRunning === 1 && sim.engine.pool.cachedHashes().size > 0, {
      message: "the request never started",
    });

    const refused = await postJson(`${sim.url}/reset_prefix_cache`, {});
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toMatch(/requests are running/);
    const bad = await postJson(`${sim.url}/reset_prefix_cache?reset_running_requests=maybe`, {});
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toBe("reset_running_requests must be a boolean.");

    const reset = await postJson(`${sim.url}/reset_prefix_cache?reset_running_requests=True`, {});
    expect(reset.status).toBe(200);

    const done = await answer;
    expect(done.status).toBe(200);
    expect(done.json.usage.completion_tokens).toBe(120);
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    expect(metrics).toMatch(/^vllm:num_preemptions_total\{[^}]*\} 1$/m);
  });
});
