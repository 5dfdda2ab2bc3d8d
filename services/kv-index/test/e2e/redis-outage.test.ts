import {
  type NatsServerHandle,
  type RedisServerHandle,
  startNats,
  startRedis,
  waitFor,
} from "@inferd/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { MODEL, postLookup, startTestKvIndex } from "../support/stack.ts";

let nats: NatsServerHandle;
let redis: RedisServerHandle;
beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
});
afterAll(async () => {
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

it("kv-index - lookups fail fast with 503 while Redis is away, and work again when it is back", async () => {
  const kvi = await startTestKvIndex({
    natsUrl: nats.url,
    redisUrl: redis.url,
    indexBackend: "redis",
    ingest: false,
    lookupTimeoutMs: 200,
  });
  try {
    const body = { model: MODEL, tokens: Array.from({ length: 64 }, (_, i) => i + 1) };
    await waitFor(async () => (await postLookup(kvi.httpUrl, body)).status === 200, { message: "lookup ok" });
    await redis.stop();
    const t0 = Date.now();
    const down = await postLookup(kvi.httpUrl, body);
    expect(down.status).toBe(503);
    expect(down.json.error.code).toBe("index_unavailable");
    expect(Date.now() - t0).toBeLessThan(2_000);
    // Scrapes still answer; the entries gauge says NaN (unknown), never a false 0.
    const scrape = await fetch(`${kvi.httpUrl}/metrics`);
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    const entries = text.split("\n").filter((l) => l.startsWith("inferd_kv_index_entries"));
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatch(/ nan$/i);
    await redis.restart();
    await waitFor(async () => (await postLookup(kvi.httpUrl, body)).status === 200, {
      timeoutMs: 15_000,
      message: "lookup ok after Redis is back",
    });
  } finally {
    await kvi.stop();
  }
});
