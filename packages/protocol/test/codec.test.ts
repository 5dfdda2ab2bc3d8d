import { describe, expect, it } from "vitest";
import {
  decode,
  encode,
  formatFromContentType,
  KvEventBatchSchema,
  make,
  PickOutcome,
  PickResponseSchema,
} from "../src/index.ts";

describe("protocol - codec", () => {
  it("round-trips uint64 hashes as bigint through protobuf and JSON", () => {
    const batch = make(KvEventBatchSchema, {
      model: "Qwen/Qwen3-32B",
      pod: "sim-0",
      seq: 42n,
      events: [
        {
          event: { case: "blockStored", value: { blockHashes: [18446744073709551615n, 1n], blockSize: 16 } },
        },
      ],
    });
    for (const format of ["protobuf", "json"] as const) {
      const back = decode(KvEventBatchSchema, encode(KvEventBatchSchema, batch, format), format);
      expect(back.seq).toBe(42n);
      const ev = back.events[0]?.event;
      expect(ev?.case).toBe("blockStored");
      if (ev?.case === "blockStored") expect(ev.value.blockHashes).toEqual([18446744073709551615n, 1n]);
    }
  });

  it("reads protobuf-JSON written by a person", () => {
    const json = new TextEncoder().encode(
      '{"outcome":"PICK_OUTCOME_NO_ENDPOINTS","message":"none","unknownField":1}',
    );
    const res = decode(PickResponseSchema, json, "json");
    expect(res.outcome).toBe(PickOutcome.NO_ENDPOINTS);
  });

  it("names the type in the error for a malformed payload", () => {
    expect(() => decode(PickResponseSchema, new TextEncoder().encode("{nope"), "json")).toThrow(
      /malformed inferd.v1.PickResponse \(json\)/,
    );
    expect(() => decode(PickResponseSchema, new Uint8Array([0xff, 0xff, 0xff]))).toThrow(
      /malformed inferd.v1.PickResponse/,
    );
  });

  it("chooses the format from the content type", () => {
    expect(formatFromContentType("application/json; charset=utf-8")).toBe("json");
    expect(formatFromContentType(undefined)).toBe("protobuf");
  });
});
