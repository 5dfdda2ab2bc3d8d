import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { encodeMsgpack, Float64, type MsgpackValue } from "../../src/events/msgpack-writer.ts";
import { type ExtraKeyValue, encodeCanonicalCbor } from "../../src/index.ts";

type Described =
  | null
  | boolean
  | number
  | string
  | Described[]
  | { bytes: string; times?: number }
  | { int: string }
  | { float: string }
  | { tuple: Described[] }
  | { range: number }
  | { repeat: [string, number] }
  | { map: [string, Described][] };

interface Case {
  kind: "cbor" | "msgpack";
  value: Described;
  hex?: string;
  sha256?: string;
  length?: number;
}
// Made by gen_wire_vectors.py with Python cbor2 (canonical=True) and msgpack (use_bin_type=True).
const cases = JSON.parse(readFileSync(new URL("./wire-vectors.json", import.meta.url), "utf8")) as Case[];

function build(v: Described, forMsgpack: boolean): unknown {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => build(x, forMsgpack));
  if ("bytes" in v) {
    const unit = Buffer.from(v.bytes, "hex");
    return new Uint8Array(Buffer.concat(Array.from({ length: v.times ?? 1 }, () => unit)));
  }
  if ("int" in v) return BigInt(v.int);
  if ("float" in v) return forMsgpack ? new Float64(Number(v.float)) : Number(v.float);
  if ("tuple" in v) return v.tuple.map((x) => build(x, forMsgpack));
  if ("range" in v) return Array.from({ length: v.range }, (_, i) => i);
  if ("repeat" in v) return v.repeat[0].repeat(v.repeat[1]);
  return Object.fromEntries(v.map.map(([k, x]) => [k, build(x, forMsgpack)]));
}

const label = (c: Case) => JSON.stringify(c.value).slice(0, 60);

describe("kv-blocks wire - canonical CBOR equals Python cbor2(canonical=True)", () => {
  for (const c of cases.filter((x) => x.kind === "cbor")) {
    it(`encodes ${label(c)}`, () => {
      const bytes = encodeCanonicalCbor(build(c.value, false) as ExtraKeyValue);
      if (c.hex !== undefined) expect(Buffer.from(bytes).toString("hex")).toBe(c.hex);
      else {
        expect(bytes.length).toBe(c.length);
        expect(createHash("sha256").update(bytes).digest("hex")).toBe(c.sha256);
      }
    });
  }
  it("rejects integers beyond 64 bits", () => {
    expect(() => encodeCanonicalCbor(1n << 64n)).toThrow(RangeError);
    expect(() => encodeCanonicalCbor(-(1n << 64n) - 1n)).toThrow(RangeError);
  });
});

describe("kv-blocks wire - msgpack writer equals Python msgpack / msgspec", () => {
  for (const c of cases.filter((x) => x.kind === "msgpack")) {
    it(`encodes ${label(c)}`, () => {
      const bytes = encodeMsgpack(build(c.value, true) as MsgpackValue);
      if (c.hex !== undefined) expect(Buffer.from(bytes).toString("hex")).toBe(c.hex);
      else {
        expect(bytes.length).toBe(c.length);
        expect(createHash("sha256").update(bytes).digest("hex")).toBe(c.sha256);
      }
    });
  }
  it("rejects integers beyond 64 bits", () => {
    expect(() => encodeMsgpack(1n << 64n)).toThrow(RangeError);
    expect(() => encodeMsgpack(-(1n << 63n) - 1n)).toThrow(RangeError);
  });
});
