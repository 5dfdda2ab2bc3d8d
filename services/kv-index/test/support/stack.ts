import type { BlockIndex } from "@inferd/block-index";
import { connectNats, type NatsConnection, openKv, putEndpoint } from "@inferd/bus";
import { BUCKETS, EndpointSchema, make, subjects } from "@inferd/protocol";
import { createLogger, loadConfig } from "@inferd/service-kit";
import {
  type NatsServerHandle,
  type RedisServerHandle,
  startNats,
  startRedis,
  waitFor,
} from "@inferd/testkit";
import { afterAll, beforeAll, expect } from "vitest";
import { KV_INDEX_CONFIG, type KvIndexConfig } from "../../src/config.ts";
import { type RunningKvIndex, startKvIndex } from "../../src/service.ts";

export const MODEL = "Qwen/Qwen3-32B";

/** kv-index in this process, config = defaults + overrides (no file, no environment). */
export async function startTestKvIndex(overrides: Partial<KvIndexConfig>): Promise<RunningKvIndex> {
  const config = loadConfig("kv-index", KV_INDEX_CONFIG, {
    env: {},
    overrides: { httpPort: 0, httpHost: "127.0.0.1", logLevel: "warn", ...overrides },
  });
  const logger = createLogger({ service: "kv-index", level: process.env.KV_INDEX_TEST_LOG ?? "silent" });
  return startKvIndex(config, logger);
}

export async function registerEndpoint(
  nc: NatsConnection,
  e: { pod: string; model?: string; kvEvents: string; replay?: string; address?: string; prefix?: string },
): Promise<void> {
  const kv = await openKv(nc, subjects(e.prefix).buckets.endpoints, { history: 1 });
  await putEndpoint(
    kv,
    make(EndpointSchema, {
      model: e.model ?? MODEL,
      pod: e.pod,
      address: e.address ?? "http://127.0.0.1:1",
      kvEventsEndpoint: e.kvEvents,
      kvReplayEndpoint: e.replay ?? "",
      ready: true,
      blockSize: 16,
    }),
  );
}

export async function unregisterEndpoint(nc: NatsConnection, pod: string, model = MODEL): Promise<void> {
  const kv = await openKv(nc, BUCKETS.endpoints, { history: 1 });
  await kv.delete(subjects().endpointKey(model, pod));
}

export async function natsClient(url: string): Promise<NatsConnection> {
  return connectNats({ servers: url, name: "kv-index-test" });
}

/**
 * One real nats-server and redis-server for a test file, a client connection, and a list of
 * cleanups the tests push to (run in reverse after the file, before the servers stop).
 */
export function useServers(): {
  readonly nats: NatsServerHandle;
  readonly redis: RedisServerHandle;
  readonly nc: NatsConnection;
  readonly cleanups: (() => Promise<void>)[];
} {
  let nats: NatsServerHandle | undefined;
  let redis: RedisServerHandle | undefined;
  let nc: NatsConnection | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    nc = await natsClient(nats.url);
  });
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    await nc?.close();
    await Promise.all([nats?.dispose(), redis?.dispose()]);
  });
  return {
    get nats() {
      return nats!;
    },
    get redis() {
      return redis!;
    },
    get nc() {
      return nc!;
    },
    cleanups,
  };
}

/** The engine-level view of a pod in the index: engine hash -> copies (over tiers). */
export async function indexedEngineView(
  index: BlockIndex,
  pod: string,
  model = MODEL,
): Promise<Map<bigint, number>> {
  const snap = await index.snapshot(model, pod);
  const out = new Map<bigint, number>();
  for (const [ek, rk] of snap.engineToRequest)
    out.set(ek, (snap.copies.gpu.get(rk) ?? 0) + (snap.copies.cpu.get(rk) ?? 0));
  return out;
}

/** Waits until the index's view of `pod` equals `expected` (engine hash -> copies). */
export async function expectIndexEquals(
  index: BlockIndex,
  pod: string,
  expected: ReadonlyMap<bigint, number>,
  model = MODEL,
  timeoutMs = 15_000,
): Promise<void> {
  const show = (m: ReadonlyMap<bigint, number>) =>
    [...m]
      .map(([k, v]) => `${k.toString(16)}x${v}`)
      .sort()
      .join(",");
  try {
    await waitFor(async () => show(await indexedEngineView(index, pod, model)) === show(expected), {
      timeoutMs,
      intervalMs: 50,
      message: `index view of ${pod}`,
    });
  } catch (err) {
    expect(show(await indexedEngineView(index, pod, model)), (err as Error).message).toBe(show(expected));
  }
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary response JSON
export async function postLookup(httpUrl: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${httpUrl}/v1/lookup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}
