import fc from "fast-check";
import { expect, it } from "vitest";
import { describeIndexContract } from "../src/contract.ts";
import { InMemoryBlockIndex } from "../src/in-memory.ts";

describeIndexContract("in-memory", async () => {
  const index = new InMemoryBlockIndex();
  return { index, cleanup: () => index.close() };
});

it("block-index - in-memory lookupSync answers like lookup", async () => {
  const index = new InMemoryBlockIndex();
  await index.add("m", "a", "gpu", null, [1n, 2n, 3n]);
  expect(index.lookupSync("m", [1n, 2n, 9n])).toEqual(await index.lookup("m", [1n, 2n, 9n]));
  expect(index.lookupSync("m", [1n, 2n, 9n])).toEqual([{ engine: "a", gpuBlocks: 2, anyBlocks: 2 }]);
});

it("block-index - in-memory max entries per engine drops new blocks only", async () => {
  const drops: number[] = [];
  const index = new InMemoryBlockIndex({ maxEntriesPerEngine: 2, onDropped: (_m, _e, n) => drops.push(n) });
  await index.add("m", "a", "gpu", [1n, 2n, 3n], [10n, 20n, 30n]);
  await index.add("m", "a", "cpu", [1n], [10n]);
  await index.add("m", "b", "gpu", null, [30n]);
  expect(drops).toEqual([1]);
  const snap = await index.snapshot("m", "a");
  expect(snap.copies.gpu).toEqual(
    new Map([
      [10n, 1],
      [20n, 1],
    ]),
  );
  expect(snap.copies.cpu).toEqual(new Map([[10n, 1]]));
  expect(await index.lookup("m", [30n])).toEqual([{ engine: "b", gpuBlocks: 1, anyBlocks: 1 }]);
});

/**
 * The plain model of the contract the packed index must answer exactly like: engine -> request
 * key -> copies per tier, engine key -> request key, and a prefix walk per engine.
 */
class ReferenceIndex {
  readonly held = new Map<string, Map<bigint, [number, number]>>();
  readonly mapping = new Map<string, Map<bigint, bigint>>();
  add(engine: string, tier: 0 | 1, engineKeys: bigint[] | null, requestKeys: bigint[], cap: number) {
    const held = this.held.get(engine) ?? new Map<bigint, [number, number]>();
    const mapping = this.mapping.get(engine) ?? new Map<bigint, bigint>();
    this.held.set(engine, held);
    this.mapping.set(engine, mapping);
    requestKeys.forEach((rk, i) => {
      let copies = held.get(rk);
      if (!copies && cap > 0 && held.size >= cap) return;
      if (!copies) {
        copies = [0, 0];
        held.set(rk, copies);
      }
      copies[tier]++;
      if (engineKeys) mapping.set(engineKeys[i]!, rk);
    });
  }
  evict(engine: string, tier: 0 | 1, engineKeys: bigint[]) {
    const held = this.held.get(engine);
    const mapping = this.mapping.get(engine);
    for (const ek of engineKeys) {
      const rk = mapping?.get(ek);
      if (rk === undefined) continue;
      const copies = held?.get(rk);
      if (!copies) {
        mapping!.delete(ek);
        continue;
      }
      if (copies[tier] === 0) continue;
      copies[tier]--;
      if (copies[0] + copies[1] > 0) continue;
      mapping!.delete(ek);
      held!.delete(rk);
    }
  }
  clear(engine: string) {
    this.held.get(engine)?.clear();
    this.mapping.get(engine)?.clear();
  }
  lookup(keys: bigint[]) {
    const out: { engine: string; gpuBlocks: number; anyBlocks: number }[] = [];
    for (const [engine, held] of this.held) {
      let any = 0;
      while (any < keys.length && held.has(keys[any]!)) any++;
      let gpu = 0;
      while (gpu < keys.length && (held.get(keys[gpu]!)?.[0] ?? 0) > 0) gpu++;
      if (any > 0) out.push({ engine, gpuBlocks: gpu, anyBlocks: any });
    }
    return out;
  }
}

it("block-index - in-memory answers every lookup like the plain model, through any writes", async () => {
  // More engines than a key record holds inline (4): the spill-over path is walked too.
  const engines = ["a", "b", "c#dp1", "d", "e", "f", "g"];
  const rk = fc.integer({ min: 0, max: 5 }).map((i) => BigInt.asUintN(64, BigInt(i) * 0x9e3779b97f4a7c15n));
  const ek = fc.integer({ min: 0, max: 7 }).map((i) => BigInt(i) + 1000n);
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("add" as const),
      engine: fc.constantFrom(...engines),
      tier: fc.constantFrom(0 as const, 1 as const),
      pairs: fc.array(fc.tuple(ek, rk), { maxLength: 8 }),
      speculative: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant("evict" as const),
      engine: fc.constantFrom(...engines),
      tier: fc.constantFrom(0 as const, 1 as const),
      keys: fc.array(ek, { maxLength: 6 }),
    }),
    fc.record({
      kind: fc.constantFrom("clear" as const, "forget" as const),
      engine: fc.constantFrom(...engines),
    }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(op, { maxLength: 60 }),
      fc.array(fc.array(rk, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 5 }),
      fc.constantFrom(0, 3),
      async (ops, lookups, cap) => {
        const index = new InMemoryBlockIndex({ maxEntriesPerEngine: cap });
        const ref = new ReferenceIndex();
        for (const o of ops) {
          const tier = o.kind === "add" || o.kind === "evict" ? (o.tier === 0 ? "gpu" : "cpu") : "gpu";
          if (o.kind === "add") {
            const eks = o.speculative ? null : o.pairs.map(([e]) => e);
            const rks = o.pairs.map(([, r]) => r);
            await index.add("m", o.engine, tier, eks, rks);
            ref.add(o.engine, o.tier, eks, rks, cap);
          } else if (o.kind === "evict") {
            await index.evict("m", o.engine, tier, o.keys);
            ref.evict(o.engine, o.tier, o.keys);
          } else if (o.kind === "clear") {
            await index.clear("m", o.engine);
            ref.clear(o.engine);
          } else {
            await index.forget("m", o.engine);
            ref.held.delete(o.engine);
            ref.mapping.delete(o.engine);
          }
        }
        const byName = (a: { engine: string }, b: { engine: string }) => a.engine.localeCompare(b.engine);
        for (const keys of lookups) {
          expect(index.lookupSync("m", keys).sort(byName)).toEqual(ref.lookup(keys).sort(byName));
        }
        let entries = 0;
        for (const [engine, held] of ref.held) {
          entries += held.size;
          const snap = await index.snapshot("m", engine);
          expect(new Map([...snap.copies.gpu, ...snap.copies.cpu].map(([k]) => [k, true]))).toEqual(
            new Map([...held.keys()].map((k) => [k, true])),
          );
          expect(snap.engineToRequest).toEqual(ref.mapping.get(engine));
        }
        expect(await index.size()).toBe(entries);
      },
    ),
  );
});

it("block-index - in-memory keys held by more engines than their record holds inline", async () => {
  const index = new InMemoryBlockIndex();
  const engines = ["a", "b", "c", "d", "e", "f"];
  for (const e of engines) await index.add("m", e, "gpu", [1n, 2n], [10n, 20n]);
  // The last two engines (spilled over) keep block 1 on CPU only.
  for (const e of ["e", "f"]) {
    await index.evict("m", e, "gpu", [2n]);
    await index.add("m", e, "cpu", [2n], [20n]);
  }
  const byName = (a: { engine: string }, b: { engine: string }) => a.engine.localeCompare(b.engine);
  expect(index.lookupSync("m", [10n, 20n]).sort(byName)).toEqual(
    engines.map((engine) => ({ engine, gpuBlocks: engine < "e" ? 2 : 1, anyBlocks: 2 })),
  );
  // Fewer holders again, then a new one: it must not meet what the earlier ones left behind.
  await index.forget("m", "b");
  await index.forget("m", "c");
  await index.add("m", "g", "cpu", null, [10n]);
  expect(index.lookupSync("m", [10n, 20n]).map((m) => m.engine)).toEqual(["a", "d", "e", "f", "g"]);
  expect(index.lookupSync("m", [10n, 20n]).find((m) => m.engine === "g")).toEqual({
    engine: "g",
    gpuBlocks: 0,
    anyBlocks: 1,
  });
  expect(await index.size()).toBe(4 * 2 + 1);
});

it("block-index - in-memory a freed key slot that still holds the key's halves is not walked into", async () => {
  const index = new InMemoryBlockIndex();
  await index.add("m", "a", "gpu", [1n, 2n, 3n], [10n, 20n, 30n]);
  // Key 20 leaves its slot (the one after key 10's) and comes back in another one.
  await index.evict("m", "a", "gpu", [2n]);
  await index.evict("m", "a", "gpu", [3n]);
  await index.add("m", "a", "gpu", [2n], [20n]);
  expect(index.lookupSync("m", [10n, 20n])).toEqual([{ engine: "a", gpuBlocks: 2, anyBlocks: 2 }]);
});
