import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LruCache } from "../../src/tokenizer/lru.ts";

describe("kv-blocks lru - bounded by weight", () => {
  it("evicts the least recently used entries first, a get refreshes an entry", () => {
    const lru = new LruCache<string, number>(3);
    lru.set("a", 1);
    lru.set("b", 2);
    lru.set("c", 3);
    expect(lru.get("a")).toBe(1); // a is now the most recent
    lru.set("d", 4);
    expect(lru.get("b")).toBeUndefined();
    expect([lru.get("a"), lru.get("c"), lru.get("d")]).toEqual([1, 3, 4]);
    expect(lru.size).toBe(3);
  });

  it("weighs entries by the size function and ignores entries bigger than the bound", () => {
    const lru = new LruCache<string, string>(10, (v) => v.length);
    lru.set("x", "123456");
    lru.set("y", "1234");
    expect(lru.weight).toBe(10);
    lru.set("z", "12");
    expect(lru.get("x")).toBeUndefined();
    expect(lru.weight).toBe(6);
    lru.set("huge", "12345678901");
    expect(lru.get("huge")).toBeUndefined();
    expect(lru.weight).toBe(6);
    lru.set("y", "1");
    expect(lru.weight).toBe(3);
    lru.clear();
    expect([lru.size, lru.weight]).toEqual([0, 0]);
  });
});

describe("kv-blocks lru - against a model", () => {
  // The model: entries in recency order (least recent first); a get or set makes an entry the most
  // recent; then the least recent go until the weight fits; an entry over the bound is not kept.
  const op = fc.oneof(
    fc.record({ kind: fc.constant("get" as const), key: fc.integer({ min: 0, max: 7 }) }),
    fc.record({
      kind: fc.constant("set" as const),
      key: fc.integer({ min: 0, max: 7 }),
      size: fc.integer({ min: 1, max: 12 }),
    }),
    fc.record({ kind: fc.constant("clear" as const) }),
  );
  it("holds what a recency list would, weights included (fast-check)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(op, { maxLength: 80 }), (max, ops) => {
        const lru = new LruCache<number, { size: number; n: number }>(max, (v) => v.size);
        let model: { key: number; size: number; n: number }[] = [];
        ops.forEach((o, n) => {
          if (o.kind === "clear") {
            lru.clear();
            model = [];
            return;
          }
          const at = model.findIndex((e) => e.key === o.key);
          if (o.kind === "get") {
            expect(lru.get(o.key)).toEqual(
              at === -1 ? undefined : { size: model[at]!.size, n: model[at]!.n },
            );
            if (at !== -1) model.push(...model.splice(at, 1));
            return;
          }
          lru.set(o.key, { size: o.size, n });
          if (at !== -1) model.splice(at, 1);
          if (o.size <= max) {
            model.push({ key: o.key, size: o.size, n });
            while (model.reduce((w, e) => w + e.size, 0) > max) model.shift();
          }
        });
        expect(lru.size).toBe(model.length);
        expect(lru.weight).toBe(model.reduce((w, e) => w + e.size, 0));
        for (let k = 0; k < 8; k++) {
          const e = model.find((m) => m.key === k);
          expect(lru.get(k)).toEqual(e === undefined ? undefined : { size: e.size, n: e.n });
        }
      }),
      { numRuns: 500 },
    );
  });
});
