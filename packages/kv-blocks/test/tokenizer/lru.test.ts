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
