import type { ManagedProcess } from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractMetrics, SCRAPE_PATH } from "../../src/state/metric-aliases.ts";
import { startModelSimProcess } from "./helpers.ts";

describe("scrape filter", () => {
  let sim: ManagedProcess;
  let address: string;
  beforeAll(async () => {
    ({ sim, address } = await startModelSimProcess(["--model", "Qwen/Qwen3-32B", "--profile", "tiny-fast"]));
  }, 90_000);
  afterAll(async () => {
    await sim?.stop();
  });

  it("scrape filter - a real model-sim's filtered page gives the same signals as its whole page, in a fraction of the bytes", async () => {
    const done = await fetch(`${address}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "Qwen/Qwen3-32B", prompt: "hello there", max_tokens: 4 }),
    });
    expect(done.status).toBe(200);
    const full = await (await fetch(`${address}/metrics`)).text();
    const filtered = await (await fetch(`${address}${SCRAPE_PATH}`)).text();
    const fromFull = extractMetrics(full, 1);
    expect(fromFull.kvUsage).toBeDefined();
    expect(fromFull.waiting).toBe(0);
    expect(fromFull.blockSize).toBeDefined();
    expect(extractMetrics(filtered, 1)).toEqual(fromFull);
    expect(filtered.length).toBeLessThan(full.length / 10);
  });
});
