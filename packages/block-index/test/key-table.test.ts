import fc from "fast-check";
import { expect, it } from "vitest";
import { joinHalves, KeyTable, keyHalves, packKeys } from "../src/key-table.ts";

const key64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

it("block-index - key table answers like a Map through any sets and deletes", () => {
  fc.assert(
    fc.property(
      // A small key space (some keys sharing a half) makes probe runs, collisions and re-deletes common.
      fc.array(
        fc.tuple(
          fc.constantFrom("set", "delete"),
          fc.oneof(
            fc.bigInt({ min: 0n, max: 40n }),
            fc.bigInt({ min: 0n, max: 40n }).map((k) => k << 32n),
            key64,
          ),
          fc.nat(1000),
        ),
        { maxLength: 300 },
      ),
      fc.array(fc.bigInt({ min: 0n, max: 200n }), { minLength: 20, maxLength: 120 }),
      (ops, dense) => {
        const table = new KeyTable();
        const model = new Map<bigint, number>();
        // A table kept near half full, then thinned out: deletes inside long probe runs.
        ops.unshift(
          ...dense.map((k, i) => (i % 3 === 2 ? ["delete", k, 0] : ["set", k, i]) as (typeof ops)[0]),
        );
        for (const [op, key, value] of ops) {
          const [lo, hi] = keyHalves(key);
          if (op === "set") {
            table.set(lo, hi, value);
            model.set(key, value);
          } else {
            expect(table.delete(lo, hi)).toBe(model.delete(key));
          }
          expect(table.size).toBe(model.size);
        }
        for (const [key, value] of model) expect(table.get(...keyHalves(key))).toBe(value);
        for (const [, key] of ops) if (!model.has(key)) expect(table.get(...keyHalves(key))).toBe(-1);
      },
    ),
    // Shrinking 300-op runs takes minutes; the unshrunk counterexample is reported instead.
    { endOnFailure: true },
  );
});

it("block-index - packed keys are the keys' uint32 halves", () => {
  fc.assert(
    fc.property(fc.array(key64, { maxLength: 20 }), (keys) => {
      const packed = packKeys(keys);
      expect(packed.length).toBe(2 * keys.length);
      keys.forEach((k, i) => {
        expect([packed[2 * i], packed[2 * i + 1]]).toEqual(keyHalves(k));
        expect(joinHalves(packed[2 * i]!, packed[2 * i + 1]!)).toBe(k);
      });
    }),
  );
});
