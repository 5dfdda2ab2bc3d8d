import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CHUNK_CHARS,
  chunkKeys,
  KeyLru,
  LocalPrefixView,
  localOrder,
} from "../../src/domain/local-prefix.ts";

const text = (s: string) => ({ case: "text" as const, text: s });
const eps = (...pods: string[]) => pods.map((pod) => ({ pod }));

describe("local-prefix", () => {
  it("local-prefix - keys are chained: a shared start gives shared leading keys, then they differ", () => {
    const shared = "s".repeat(CHUNK_CHARS * 3);
    const a = chunkKeys(text(`${shared}${"a".repeat(CHUNK_CHARS * 2)}`));
    const b = chunkKeys(text(`${shared}${"b".repeat(CHUNK_CHARS * 2)}`));
    expect(a).toHaveLength(5);
    expect(a.slice(0, 3)).toEqual(b.slice(0, 3));
    expect(a[3]).not.toBe(b[3]);
    // Chained: the same chunk text after a different start has a different key.
    const c = chunkKeys(text(`${"x".repeat(CHUNK_CHARS)}${"s".repeat(CHUNK_CHARS)}`));
    expect(c[1]).not.toBe(chunkKeys(text("s".repeat(CHUNK_CHARS * 2)))[1]);
    // Only full chunks count.
    expect(chunkKeys(text("s".repeat(CHUNK_CHARS - 1)))).toEqual([]);
  });

  it("local-prefix - chat messages and token prompts are keyed too", () => {
    const m = (content: string) => ({ case: "chat" as const, messages: [{ role: "system", content }] });
    expect(chunkKeys(m("q".repeat(CHUNK_CHARS * 2)))).toHaveLength(2);
    const ids = Array.from({ length: 100 }, (_, i) => i);
    expect(chunkKeys({ case: "tokens", ids })).toHaveLength(3);
  });

  it("local-prefix - match counts leading chunks per pod", () => {
    const v = new LocalPrefixView(100);
    v.record("m", "a", [1, 2, 3]);
    v.record("m", "b", [1, 2, 9]);
    v.record("other", "c", [1, 2, 3]);
    expect(v.match("m", [1, 2, 3, 4])).toEqual(
      new Map([
        ["a", 3],
        ["b", 2],
      ]),
    );
    expect(v.match("m", [7, 1])).toEqual(new Map());
  });

  it("local-prefix - memory per pod is bounded, least recently sent keys go first", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 20 })), (batches) => {
        const v = new LocalPrefixView(8);
        for (const b of batches) v.record("m", "a", b);
        expect(v.size("m", "a")).toBeLessThanOrEqual(8);
        const last = batches.at(-1);
        if (last !== undefined && new Set(last).size <= 8 && last.length > 0) {
          expect(v.match("m", [last[0]!]).get("a")).toBe(1);
        }
      }),
    );
  });

  it("local-prefix - KeyLru holds exactly what a Map-based LRU holds, in the same order", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 80 }), { maxLength: 60 }), { maxLength: 80 }),
        (capacity, batches) => {
          const lru = new KeyLru();
          const reference = new Map<number, true>();
          for (const batch of batches) {
            const added: number[] = [];
            for (const k of batch) {
              const isNew = !reference.has(k);
              reference.delete(k);
              reference.set(k, true);
              expect(lru.touch(k)).toBe(isNew);
              if (isNew) added.push(k);
            }
            const expectEvicted: number[] = [];
            while (reference.size > capacity) {
              const oldest = reference.keys().next().value as number;
              reference.delete(oldest);
              expectEvicted.push(oldest);
            }
            const evicted: number[] = [];
            lru.evict(capacity, (k) => evicted.push(k));
            expect(evicted).toEqual(expectEvicted);
            expect(lru.keys()).toEqual([...reference.keys()]);
            expect(lru.size).toBe(reference.size);
          }
        },
      ),
    );
    // Re-sending the same keys forever keeps the queue bounded (compaction), the keys held.
    const lru = new KeyLru();
    for (let i = 0; i < 20_000; i++) {
      for (let k = 0; k < 50; k++) lru.touch(k);
      lru.evict(100, () => undefined);
    }
    expect(lru.keys()).toEqual(Array.from({ length: 50 }, (_, k) => k));
  });

  it("local-prefix - localOrder: prefix holder first, unless it is too far above the least loaded", () => {
    const matched = new Map([["b", 5]]);
    const load = new Map([
      ["a", 0],
      ["b", 3],
      ["c", 1],
    ]);
    const inFlight = (p: string) => load.get(p) ?? 0;
    expect(localOrder(eps("a", "b", "c"), matched, inFlight, 0, 4).map((e) => e.pod)).toEqual([
      "b",
      "a",
      "c",
    ]);
    load.set("b", 5);
    expect(localOrder(eps("a", "b", "c"), matched, inFlight, 0, 4).map((e) => e.pod)).toEqual([
      "a",
      "c",
      "b",
    ]);
    // No prefix anywhere and equal load: the tie-break rotates the first choice.
    const firsts = new Set(
      [0, 1, 2].map((t) => localOrder(eps("a", "b", "c"), new Map(), () => 0, t, 4)[0]!.pod),
    );
    expect(firsts).toEqual(new Set(["a", "b", "c"]));
  });
});
