import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connectNats, deleteEndpoint, type NatsConnection, openKv, putEndpoint } from "@inferd/bus";
import {
  BUCKETS,
  decode,
  EndpointLoadSchema,
  EndpointRole,
  EndpointSchema,
  make,
  subjects,
} from "@inferd/protocol";
import { type NatsServerHandle, startNats, waitFor } from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningScorer, runScorer } from "../../src/run.ts";
import { quietLogger, testConfig } from "./helpers.ts";

const MODEL = "Qwen/Qwen3-32B";

describe("scorer inventory and scraping", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let scorer: RunningScorer;
  let server: Server;
  let metricsText = "vllm:num_requests_waiting 3\nvllm:num_requests_running 2\n";
  let address = "";

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url?.split("?")[0] === "/metrics") res.end(metricsText);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    nats = await startNats({ jetstream: true });
    nc = await connectNats({ servers: nats.url, name: "test" });
    scorer = await runScorer(testConfig(nats.url, { scrapeIntervalMs: "50", replicaId: "s1" }), {
      logger: quietLogger(),
    });
  });

  afterAll(async () => {
    await scorer?.stop();
    await nc?.drain();
    await nats?.stop();
    await new Promise((r) => server?.close(r));
  });

  it("scorer - follows INFERD_ENDPOINTS: puts and deletes reach the inventory", async () => {
    const kv = await openKv(nc, BUCKETS.endpoints);
    await putEndpoint(
      kv,
      make(EndpointSchema, {
        model: MODEL,
        pod: "sim-1",
        address,
        role: EndpointRole.DECODE,
        loraAdapters: ["sql"],
        ready: true,
        kvEventsEndpoint: "tcp://127.0.0.1:5557",
        blockSize: 16,
      }),
    );
    const info = await waitFor(() => scorer.core.endpoints.all().find((e) => e.pod === "sim-1"), {
      message: "endpoint arrives",
    });
    expect(info).toMatchObject({
      model: MODEL,
      role: "decode",
      loraAdapters: ["sql"],
      publishesKvEvents: true,
      ready: true,
    });
    await putEndpoint(
      kv,
      make(EndpointSchema, { model: MODEL, pod: "sim-2", address: "http://127.0.0.1:1", ready: false }),
    );
    await waitFor(() => scorer.core.endpoints.all().length === 2, { message: "second endpoint arrives" });
    await deleteEndpoint(kv, MODEL, "sim-2");
    await waitFor(() => scorer.core.endpoints.all().length === 1, { message: "deleted endpoint leaves" });
  });

  it("scorer - scrapes /metrics, keeps unknown metrics unknown and publishes EndpointLoad", async () => {
    const got: ReturnType<typeof decode<typeof EndpointLoadSchema>>[] = [];
    const types: (string | undefined)[] = [];
    const sub = nc.subscribe(subjects().load(MODEL, "sim-1"));
    void (async () => {
      for await (const m of sub) {
        got.push(decode(EndpointLoadSchema, m.data));
        types.push(m.headers?.get("Inferd-Message-Type"));
      }
    })();
    await waitFor(() => scorer.core.load.lastMetrics("sim-1")?.waiting === 3, { message: "metrics scraped" });
    const m = scorer.core.load.lastMetrics("sim-1")!;
    expect(m.running).toBe(2);
    expect(m.kvUsage).toBeUndefined();
    const load = await waitFor(() => got.at(-1), { message: "EndpointLoad published" });
    expect(load).toMatchObject({
      model: MODEL,
      pod: "sim-1",
      reachable: true,
      requestsWaiting: 3,
      source: "s1",
    });
    expect(load.kvCacheUsage).toBeUndefined();
    expect(types.at(-1)).toBe(EndpointLoadSchema.typeName);
    metricsText = "vllm:num_requests_waiting 7\nvllm:kv_cache_usage_perc 0.5\n";
    await waitFor(() => scorer.core.load.lastMetrics("sim-1")?.kvUsage === 0.5, {
      message: "metrics refreshed",
    });
    // A change is published at the next scrape; unchanged scrapes are not (heartbeat: 1 s).
    await waitFor(() => got.some((l) => l.requestsWaiting === 7), { message: "changed load published" });
    await waitFor(
      async () =>
        /result="unchanged"[^}]*} [1-9]/.test(
          await scorer.registry.getSingleMetricAsString("inferd_scorer_load_publishes_total"),
        ),
      { message: "unchanged load not published" },
    );
    sub.unsubscribe();
  });

  it("scorer - an endpoint whose scrape fails is marked unreachable", async () => {
    const kv = await openKv(nc, BUCKETS.endpoints);
    await putEndpoint(
      kv,
      make(EndpointSchema, { model: MODEL, pod: "dead", address: "http://127.0.0.1:1", ready: true }),
    );
    await waitFor(() => scorer.core.load.failures("dead") > 0, { message: "failed scrape recorded" });
    const info = scorer.core.endpoints.all().find((e) => e.pod === "dead")!;
    expect(scorer.core.load.endpoint(info, Date.now()).unreachable).toBe(true);
  });

  it("scorer - a replica that does not scrape follows the load another replica publishes", async () => {
    const follower = await runScorer(testConfig(nats.url, { followLoad: "true", replicaId: "s2" }), {
      logger: quietLogger(),
    });
    try {
      await waitFor(
        () =>
          follower.core.load.lastMetrics("sim-1")?.waiting === scorer.core.load.lastMetrics("sim-1")?.waiting,
        {
          message: "follower sees the scraper's metrics",
        },
      );
      expect(follower.core.load.lastMetrics("sim-1")?.kvUsage).toBe(0.5);
      await waitFor(() => follower.core.load.failures("dead") > 0, {
        message: "follower sees the failed scrape",
      });
    } finally {
      await follower.stop();
    }
  });
});
