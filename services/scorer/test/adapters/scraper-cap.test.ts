import { createLogger } from "@inferd/service-kit";
import { describe, expect, it } from "vitest";
import { Scraper } from "../../src/adapters/scraper.ts";
import { EndpointStore } from "../../src/state/endpoints.ts";
import { InflightTracker } from "../../src/state/inflight.ts";
import { LoadView } from "../../src/state/load-view.ts";

describe("scorer - scrape cap", () => {
  it("scorer - the scrape interval stretches so scrapes stay under maxScrapesPerSecond", () => {
    const store = new EndpointStore();
    const inflight = new InflightTracker({ speculativeTtlMs: 1000, maxAgeMs: 1000 });
    const scraper = (cap: number) =>
      new Scraper(store, new LoadView(inflight, 2000), inflight, {
        intervalMs: 100,
        timeoutMs: 100,
        maxScrapesPerSecond: cap,
        publish: null,
        logger: createLogger({ service: "t", level: "silent" }),
        metrics: undefined,
      });
    const add = (n: number) => {
      for (let i = 0; i < n; i++)
        store.upsert({
          model: "m",
          pod: `p${store.all().length}`,
          address: "",
          role: "both",
          loraAdapters: [],
          ready: true,
          labels: {},
          blockSize: 16,
          publishesKvEvents: true,
          maxLoras: 0,
        });
    };
    add(2);
    expect(scraper(200).intervalMs()).toBe(100);
    add(98);
    expect(scraper(200).intervalMs()).toBe(500);
    expect(scraper(0).intervalMs()).toBe(100);
  });
});
