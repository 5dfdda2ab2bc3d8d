import { decode, encode, KvLookupRequestSchema, make } from "@inferd/protocol";
import { describe, expect, it } from "vitest";
import { encodeTokenLookup } from "../../src/adapters/lookup-encoding.ts";

describe("kv lookup encoding", () => {
  it("lookup encoding - hand-written bytes decode to the same KvLookupRequest as the generic encoder's", () => {
    const cases = [
      {
        model: "Qwen/Qwen3-32B",
        loraName: "",
        ids: [0, 1, 127, 128, 16383, 16384, 151_935, 2 ** 32 - 1],
        candidatePods: ["a", "sim-ü"],
        cacheSalt: "",
      },
      {
        model: "m",
        loraName: "sql-lora",
        ids: new Uint32Array(5000).map((_, i) => i * 37),
        candidatePods: [],
        cacheSalt: "salt",
      },
      { model: "m", loraName: "", ids: [], candidatePods: ["x"], cacheSalt: "" },
    ];
    for (const q of cases) {
      const expected = make(KvLookupRequestSchema, {
        model: q.model,
        loraName: q.loraName,
        prompt: { case: "tokens", value: { ids: Array.from(q.ids) } },
        candidatePods: [...q.candidatePods],
        cacheSalt: q.cacheSalt,
      });
      expect(decode(KvLookupRequestSchema, encodeTokenLookup(q))).toEqual(expected);
      expect(encodeTokenLookup(q).length).toBe(encode(KvLookupRequestSchema, expected).length);
    }
  });
});
