import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeSeq,
  END_SEQ,
  encodeSeq,
  formatTopic,
  isEndSeq,
  MalformedKvEventError,
  parseTopic,
} from "../../src/index.ts";

describe("kv-blocks frames - sequence", () => {
  it("writes 8-byte big-endian and reads it back", () => {
    expect(Buffer.from(encodeSeq(258n)).toString("hex")).toBe("0000000000000102");
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (n) => {
        expect(decodeSeq(encodeSeq(n))).toBe(n);
      }),
    );
  });

  it("reads a sequence from a view into a larger buffer", () => {
    const big = Uint8Array.of(9, 9, 0, 0, 0, 0, 0, 0, 0, 7, 9);
    expect(decodeSeq(big.subarray(2, 10))).toBe(7n);
  });

  it("rejects frames that are not 8 bytes and out-of-range numbers", () => {
    expect(() => decodeSeq(new Uint8Array(7))).toThrow(MalformedKvEventError);
    expect(() => decodeSeq(new Uint8Array(9))).toThrow(/expected 8 bytes, got 9/);
    expect(() => encodeSeq(-1n)).toThrow(RangeError);
    expect(() => encodeSeq(1n << 64n)).toThrow(RangeError);
  });

  it("recognises the replay end marker (signed -1)", () => {
    expect(isEndSeq(END_SEQ)).toBe(true);
    expect(isEndSeq(encodeSeq((1n << 64n) - 1n))).toBe(true);
    expect(isEndSeq(encodeSeq(5n))).toBe(false);
    expect(isEndSeq(new Uint8Array(0))).toBe(false);
  });
});

describe("kv-blocks frames - topic", () => {
  it("parses kv@<pod>@<model>, the model may contain @ and the pod a port", () => {
    expect(parseTopic("kv@10.0.0.7:8000@Qwen/Qwen3-32B")).toEqual({
      pod: "10.0.0.7:8000",
      model: "Qwen/Qwen3-32B",
    });
    expect(parseTopic("kv@sim-0@org/model@rev2")).toEqual({ pod: "sim-0", model: "org/model@rev2" });
    expect(parseTopic(new TextEncoder().encode("kv@p@m"))).toEqual({ pod: "p", model: "m" });
  });

  it("rejects topics without the kv prefix, pod or model", () => {
    for (const bad of ["", "kv", "kv@pod", "kv@@model", "kv@pod@", "xx@pod@model", "pod@model"]) {
      expect(() => parseTopic(bad)).toThrow(MalformedKvEventError);
    }
  });

  it("formats topics that parse back to the same pod and model", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((s) => !s.includes("@")),
        fc.string({ minLength: 1 }),
        (pod, model) => {
          expect(parseTopic(formatTopic(pod, model))).toEqual({ pod, model });
        },
      ),
    );
    expect(() => formatTopic("a@b", "m")).toThrow(RangeError);
  });
});
