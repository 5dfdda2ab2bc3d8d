import { requestKeys } from "@inferd/kv-blocks";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RequestKeyCache } from "../../src/replica/key-cache.ts";

describe("index replica - request key cache", () => {
  it("index replica - cached keys equal the hasher's for any prompts sharing any prefixes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 40 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 40 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 6 }),
        (shared, tails, blockSize) => {
          // Tiny alphabets and blocks make shared prefixes and fingerprint-equal blocks likely.
          const cache = new RequestKeyCache(16);
          for (const model of ["m", "n"]) {
            for (const tail of tails) {
              const tokens = [...shared, ...tail];
              expect(cache.keys(model, tokens, blockSize)).toEqual(requestKeys(model, tokens, { blockSize }));
            }
          }
          expect(cache.size).toBeLessThanOrEqual(16);
        },
      ),
    );
  });

  it("index replica - a block equal to the next cached one but under another parent gets its own key", () => {
    const cache = new RequestKeyCache();
    const a = [1, 1];
    const b = [2, 2];
    for (const tokens of [[...a, ...b], [...b], [...a, ...b, ...b]]) {
      expect(cache.keys("m", tokens, 2)).toEqual(requestKeys("m", tokens, { blockSize: 2 }));
    }
  });
});
