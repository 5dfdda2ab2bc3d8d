import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger } from "@inferd/service-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Scraper } from "../../src/adapters/scraper.ts";
import { EndpointStore } from "../../src/state/endpoints.ts";
import { InflightTracker } from "../../src/state/inflight.ts";
import { LoadView } from "../../src/state/load-view.ts";
import { info } from "../helpers.ts";

describe("scorer - scrapes of quiet endpoints", () => {
  let server: Server;
  let address = "";
  let served = 0;
  let page = "vllm:num_requests_waiting 0\nvllm:num_requests_running 0\n";

  beforeAll(async () => {
    server = createServer((req, res) => {
      served++;
      if (req.url?.split("?")[0] === "/metrics") res.end(page);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
  });

  /** A scraper of one endpoint on a clock the test moves; rounds run by hand. */
  function setup(quietIntervalMs: number, endpointAddress = address) {
    let now = 1_000_000;
    const store = new EndpointStore();
    store.upsert(info("p1", { address: endpointAddress }));
    const inflight = new InflightTracker({ speculativeTtlMs: 60_000, maxAgeMs: 60_000 });
    const load = new LoadView(inflight, 60_000);
    const scraper = new Scraper(store, load, inflight, {
      intervalMs: 100,
      quietIntervalMs,
      timeoutMs: 2_000,
      publish: null,
      logger: createLogger({ service: "t", level: "silent" }),
      metrics: undefined,
      now: () => now,
    });
    let n = 0;
    return {
      load,
      /** Moves the clock by `ms`, runs one round and says whether it scraped. */
      async roundAfter(ms: number): Promise<boolean> {
        now += ms;
        const before = served;
        await scraper.round();
        return served > before;
      },
      pick() {
        inflight.picked(
          {
            requestId: `r${n++}`,
            baseModel: "m",
            pod: "p1",
            prefillPod: "",
            promptTokens: 100,
            cachedTokens: 0,
          },
          now,
        );
      },
    };
  }

  it("scorer - an idle endpoint is scraped every quietIntervalMs until a pick or event touches it", async () => {
    page = "vllm:num_requests_waiting 0\nvllm:num_requests_running 0\n";
    const s = setup(500);
    expect(await s.roundAfter(0)).toBe(true); // nothing known yet
    expect(await s.roundAfter(100)).toBe(false);
    expect(await s.roundAfter(100)).toBe(false);
    s.pick();
    expect(await s.roundAfter(100)).toBe(true); // its in-flight load changed
    expect(await s.roundAfter(100)).toBe(false);
    expect(await s.roundAfter(399)).toBe(false);
    expect(await s.roundAfter(1)).toBe(true); // quietIntervalMs since the last scrape
    expect(s.load.lastMetrics("p1")?.waiting).toBe(0);
  });

  it("scorer - an endpoint with requests waiting is scraped every interval, quiet or not", async () => {
    page = "vllm:num_requests_waiting 2\nvllm:num_requests_running 8\n";
    const s = setup(500);
    for (let i = 0; i < 4; i++) expect(await s.roundAfter(100)).toBe(true);
  });

  it("scorer - without quietIntervalMs every round scrapes", async () => {
    page = "vllm:num_requests_waiting 0\nvllm:num_requests_running 0\n";
    const s = setup(0);
    for (let i = 0; i < 4; i++) expect(await s.roundAfter(100)).toBe(true);
  });

  it("scorer - an endpoint whose scrape failed is tried again every interval", async () => {
    // A port nobody listens on (the server's, once closed): every scrape fails.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const s = setup(500, dead);
    for (let i = 0; i < 3; i++) {
      await s.roundAfter(100);
      expect(s.load.failures("p1")).toBe(i + 1);
    }
  });
});
