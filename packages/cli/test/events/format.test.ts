import { subjects } from "@inferd/protocol";
import { describe, expect, it } from "vitest";
import { formatHuman, formatJson } from "../../src/events/format.ts";
import { EVENT_SOURCES, eventSource } from "../../src/events/sources.ts";

const at = new Date("2026-12-06T10:11:12.345Z");

describe("cli events - formatting", () => {
  it("summarises a request event with its timings and tokens", () => {
    const line = formatHuman(
      {
        subject: "inferd.v1.requests.m",
        type: "inferd.v1.RequestEvent",
        message: {
          phase: "REQUEST_PHASE_COMPLETED",
          model: "Qwen/Qwen3-32B",
          requestId: "r1",
          endpoint: "sim-1",
          ttftSeconds: 0.1234,
          promptTokens: 6000,
          cachedTokens: 5984,
          completionTokens: 256,
        },
      },
      at,
    );
    expect(line).toBe(
      "10:11:12.345 RequestEvent COMPLETED Qwen/Qwen3-32B id=r1 endpoint=sim-1 ttft=123ms prompt=6000 cached=5984 output=256",
    );
  });

  it("counts the blocks of each event kind in a KV batch", () => {
    const line = formatHuman(
      {
        subject: "x",
        type: "inferd.v1.KvEventBatch",
        message: {
          model: "m",
          pod: "p",
          seq: "7",
          events: [{ blockStored: { blockHashes: ["1", "2"] } }, { blockRemoved: { blockHashes: ["3"] } }],
        },
      },
      at,
    );
    expect(line).toBe("10:11:12.345 KvEventBatch m p seq=7 blockStored=2 blockRemoved=1");
  });

  it("names a deleted inventory entry by its unescaped key", () => {
    const line = formatHuman(
      {
        subject: "$KV.INFERD_ENDPOINTS.Qwen=2FQwen3-32B.sim-0",
        type: "inferd.v1.Endpoint",
        message: {},
        deleted: true,
      },
      at,
    );
    expect(line).toBe("10:11:12.345 Endpoint Qwen/Qwen3-32B sim-0 deleted");
  });

  it("prints unknown types as compact JSON and --json as one object", () => {
    const event = { subject: "s", type: "inferd.v1.Other", message: { a: 1 } };
    expect(formatHuman(event, at)).toBe('10:11:12.345 Other {"a":1}');
    expect(JSON.parse(formatJson(event))).toEqual(event);
  });
});

describe("cli events - sources", () => {
  const s = subjects();
  it("filters one model's subjects or all of them", () => {
    expect(eventSource("requests").filter(s, "a/b")).toBe("inferd.v1.requests.a=2Fb");
    expect(eventSource("decisions").filter(s, "m")).toBe("inferd.v1.autoscale.decisions.m.*");
    expect(eventSource("load").filter(s)).toBe("inferd.v1.load.*.*");
    expect(eventSource("endpoints").filter(s, "m")).toBe("$KV.INFERD_ENDPOINTS.m.*");
  });

  it("rejects an unknown source, naming the known ones", () => {
    expect(() => eventSource("nope")).toThrow(/one of requests, kv-events/);
    expect(EVENT_SOURCES.length).toBe(7);
  });
});
