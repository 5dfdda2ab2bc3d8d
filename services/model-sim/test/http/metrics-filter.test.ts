import { afterEach, describe, expect, it } from "vitest";
import type { SimServerHandle } from "../../src/server.ts";
import { postJson, startTestServer } from "../helpers.ts";

describe("GET /metrics?name[]=", () => {
  const servers: SimServerHandle[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it("metrics filter - only the named samples, with their HELP and TYPE, as prometheus_client serves them", async () => {
    const sim = await startTestServer();
    servers.push(sim);
    const done = await postJson(`${sim.url}/v1/completions`, {
      model: "Qwen/Qwen3-32B",
      prompt: "hi",
      max_tokens: 3,
    });
    expect(done.status).toBe(200);
    const get = async (query: string) => (await fetch(`${sim.url}/metrics${query}`)).text();

    const full = await get("");
    const names = ["vllm:num_requests_waiting", "vllm:time_to_first_token_seconds_count", "no_such_metric"];
    const filtered = await get(`?${names.map((n) => `name[]=${encodeURIComponent(n)}`).join("&")}`);
    const samples = filtered.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    expect(samples.length).toBeGreaterThan(0);
    expect(new Set(samples.map((l) => l.split(/[{ ]/)[0]))).toEqual(new Set(names.slice(0, 2)));
    // The same lines as the whole page has for those samples (values included: nothing moved).
    for (const l of samples) expect(full.split("\n")).toContain(l);
    expect(filtered).toContain("# TYPE vllm:num_requests_waiting gauge");
    expect(filtered).toContain("# TYPE vllm:time_to_first_token_seconds histogram");
    expect(filtered).not.toContain("_bucket");
    expect(filtered.length).toBeLessThan(full.length / 10);
    expect(await get("?name[]=no_such_metric")).toBe("");
  });
});
