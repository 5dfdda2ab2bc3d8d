import { describe, expect, it } from "vitest";
import { EndpointStore } from "../../src/state/endpoints.ts";
import { InflightTracker } from "../../src/state/inflight.ts";
import { LoadView } from "../../src/state/load-view.ts";
import { SessionStore } from "../../src/state/sessions.ts";
import { info, metrics } from "../helpers.ts";

describe("endpoint inventory", () => {
  it("endpoints - base model and adapter resolution", () => {
    const s = new EndpointStore();
    s.upsert(info("a", { model: "base", loraAdapters: ["sql"] }));
    s.upsert(info("b", { model: "base" }));
    s.upsert(info("c", { model: "other" }));
    expect(s.candidates("base").endpoints.map((e) => e.pod)).toEqual(["a", "b"]);
    expect(s.candidates("sql")).toMatchObject({ baseModel: "base", lora: "sql" });
    expect(s.candidates("sql").endpoints.map((e) => e.pod)).toEqual(["a"]);
    expect(s.candidates("none").endpoints).toEqual([]);
    s.remove("base", "a");
    expect(s.candidates("sql").endpoints).toEqual([]);
  });
});

describe("load view", () => {
  it("load-view - stale metrics are unknown; failed scrapes mark the endpoint unreachable", () => {
    const v = new LoadView(new InflightTracker({ speculativeTtlMs: 1, maxAgeMs: 1 }), 1000);
    v.scraped("a", metrics({ waiting: 1, scrapedAtMs: 100 }));
    expect(v.endpoint(info("a"), 500).metrics?.waiting).toBe(1);
    expect(v.endpoint(info("a"), 2000).metrics).toBeUndefined();
    v.scrapeFailed("a");
    expect(v.endpoint(info("a"), 500).unreachable).toBe(true);
    v.scraped("a", metrics({ scrapedAtMs: 600 }));
    expect(v.endpoint(info("a"), 700).unreachable).toBe(false);
  });
});

describe("sessions", () => {
  it("sessions - bindings expire when idle and the store is bounded", () => {
    const s = new SessionStore(2);
    s.bind("x", "a", 0);
    s.bind("y", "b", 0);
    s.bind("z", "c", 0);
    expect(s.size).toBe(2);
    expect(s.get("x", 0, 10)).toBeUndefined();
    expect(s.get("z", 5, 10)).toBe("c");
    expect(s.get("z", 50, 10)).toBeUndefined();
  });
});
