import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RequestKeyHasher, requestKeyRoot, requestKeys, vllmExtraKeys } from "../../src/index.ts";

interface Vector {
  model: string;
  tokens: number[];
  blockSize: number;
  loraName: string | null;
  cacheSalt: string | null;
  root: string;
  keys: string[];
}
// Made by gen_request_key_vectors.py (Python xxhash + cbor2) from the README definition.
const vectors = JSON.parse(
  readFileSync(new URL("./request-key-vectors.json", import.meta.url), "utf8"),
) as Vector[];

describe("kv-blocks request keys - definition", () => {
  for (const v of vectors) {
    it(`matches the Python reference for ${v.model} lora=${v.loraName} salt=${v.cacheSalt} block=${v.blockSize}`, () => {
      expect(requestKeyRoot(v.model).toString()).toBe(v.root);
      const keys = requestKeys(v.model, v.tokens, {
        blockSize: v.blockSize,
        loraName: v.loraName,
        cacheSalt: v.cacheSalt,
      });
      expect(keys.map(String)).toEqual(v.keys);
    });
  }

  it("gives identical keys incrementally, from a parent, from a Uint32Array and from event extra keys", () => {
    const v = vectors.find((x) => x.loraName && x.cacheSalt) ?? vectors[3]!;
    const h = new RequestKeyHasher(v.model);
    const opts = { blockSize: v.blockSize, loraName: v.loraName, cacheSalt: v.cacheSalt };
    const all = h.keys(v.tokens, opts);
    expect(h.keys(Uint32Array.from(v.tokens), opts)).toEqual(all);
    const perBlock = all.map((_, i) => vllmExtraKeys(i * v.blockSize, (i + 1) * v.blockSize, opts));
    expect(h.keys(v.tokens, { blockSize: v.blockSize, extraKeys: perBlock })).toEqual(all);
    let parent: bigint | null = null;
    const inc: bigint[] = [];
    for (let i = 0; i < all.length; i++) {
      parent = h.next(parent, v.tokens.slice(i * v.blockSize, (i + 1) * v.blockSize), perBlock[i] ?? null);
      inc.push(parent);
    }
    expect(inc).toEqual(all);
  });

  it("continues from a parent key: keys(a ++ b) == keys(a) ++ keys(b, parent = last(a))", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(200000), { maxLength: 80 }),
        fc.array(fc.nat(200000), { maxLength: 80 }),
        fc.integer({ min: 1, max: 16 }),
        fc.option(fc.string({ maxLength: 8 }), { nil: null }),
        (a, b, bs, lora) => {
          const full = a.slice(0, a.length - (a.length % bs));
          const left = requestKeys("m", full, { blockSize: bs, loraName: lora });
          const right = requestKeys("m", b, {
            blockSize: bs,
            loraName: lora,
            parentKey: left.at(-1) ?? null,
            startTokenIndex: full.length,
          });
          expect(requestKeys("m", [...full, ...b], { blockSize: bs, loraName: lora })).toEqual([
            ...left,
            ...right,
          ]);
        },
      ),
    );
  });

  it("separates models, LoRA adapters, salts and block boundaries", () => {
    const t = Array.from({ length: 32 }, (_, i) => i);
    const base = requestKeys("a", t, { blockSize: 16 });
    expect(requestKeys("b", t, { blockSize: 16 })[0]).not.toBe(base[0]);
    expect(requestKeys("a", t, { blockSize: 16, loraName: "x" })[0]).not.toBe(base[0]);
    const salted = requestKeys("a", t, { blockSize: 16, cacheSalt: "s" });
    expect(salted[0]).not.toBe(base[0]);
    expect(salted[1]).not.toBe(base[1]); // the salt propagates through the chain
    expect(requestKeys("a", t, { blockSize: 8 })[1]).not.toBe(base[0]);
    expect(requestKeys("a", t.slice(0, 15), { blockSize: 16 })).toEqual([]);
  });

  it("rejects bad block sizes and token ids", () => {
    expect(() => requestKeys("m", [1], { blockSize: 0 })).toThrow(/block size/);
    expect(() => requestKeys("m", [1.5], { blockSize: 1 })).toThrow(/uint32/);
    expect(() => requestKeys("m", [2 ** 32], { blockSize: 1 })).toThrow(/uint32/);
  });
});
