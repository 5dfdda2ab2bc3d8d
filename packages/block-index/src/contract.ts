import { afterEach, describe, expect, it } from "vitest";
import type { BlockIndex, PrefixMatch } from "./block-index.ts";

export interface IndexFixture {
  index: BlockIndex;
  cleanup(): Promise<void>;
}

const M = "Qwen/Qwen3-32B";
const rk = (i: number) => 0xa000_0000_0000_0000n + BigInt(i);
const ek = (i: number) => 0xe000_0000_0000_0000n + BigInt(i);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function byEngine(matches: PrefixMatch[]): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const m of matches) out[m.engine] = [m.gpuBlocks, m.anyBlocks];
  return out;
}

/**
 * The behaviour every BlockIndex backend must show. Each case gets a fresh index from
 * `makeIndex` and releases it afterwards.
 */
export function describeIndexContract(label: string, makeIndex: () => Promise<IndexFixture>): void {
  describe(`block-index - index contract (${label})`, () => {
    let fixture: IndexFixture | undefined;
    const fresh = async () => {
      fixture = await makeIndex();
      return fixture.index;
    };
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it("add and lookup give each engine its consecutive prefix", async () => {
      const index = await fresh();
      await index.add(M, "a", "gpu", range(0, 5).map(ek), range(0, 5).map(rk));
      await index.add(M, "b", "gpu", range(0, 2).map(ek), range(0, 2).map(rk));
      expect(byEngine(await index.lookup(M, range(0, 8).map(rk)))).toEqual({ a: [5, 5], b: [2, 2] });
      expect(await index.lookup(M, [])).toEqual([]);
      expect(await index.lookup(M, [rk(99)])).toEqual([]);
    });

    it("an engine without block 0 matches nothing, a hole ends the prefix", async () => {
      const index = await fresh();
      await index.add(M, "a", "gpu", null, [rk(1), rk(2)]);
      await index.add(M, "b", "gpu", null, [rk(0), rk(1), rk(3)]);
      expect(byEngine(await index.lookup(M, range(0, 4).map(rk)))).toEqual({ b: [2, 2] });
    });

    it("candidate engines restrict the answer", async () => {
      const index = await fresh();
      for (const e of ["a", "b", "c"]) await index.add(M, e, "gpu", null, [rk(0), rk(1)]);
      const got = await index.lookup(M, [rk(0), rk(1)], new Set(["b", "zz"]));
      expect(byEngine(got)).toEqual({ b: [2, 2] });
    });

    it("duplicate copies: a block stays until its last copy is removed", async () => {
      const index = await fresh();
      await index.add(M, "a", "gpu", [ek(0)], [rk(0)]);
      await index.add(M, "a", "gpu", [ek(0)], [rk(0)]);
      await index.evict(M, "a", "gpu", [ek(0)]);
      expect(byEngine(await index.lookup(M, [rk(0)]))).toEqual({ a: [1, 1] });
      await index.evict(M, "a", "gpu", [ek(0)]);
      expect(await index.lookup(M, [rk(0)])).toEqual([]);
      expect(await index.requestKeysFor(M, "a", [ek(0)])).toEqual([undefined]);
      expect(await index.size()).toBe(0);
    });

    it("tiers: GPU and CPU runs are counted apart", async () => {
      const index = await fresh();
      await index.add(M, "a", "gpu", range(0, 4).map(ek), range(0, 4).map(rk));
      await index.add(M, "a", "cpu", range(0, 6).map(ek), range(0, 6).map(rk));
      expect(byEngine(await index.lookup(M, range(0, 6).map(rk)))).toEqual({ a: [4, 6] });
      await index.evict(M, "a", "gpu", [ek(1)]);
      expect(byEngine(await index.lookup(M, range(0, 6).map(rk)))).toEqual({ a: [1, 6] });
      // Still on CPU, so the engine mapping stays.
      expect(await index.requestKeysFor(M, "a", [ek(1)])).toEqual([rk(1)]);
      await index.evict(M, "a", "cpu", [ek(1)]);
      expect(byEngine(await index.lookup(M, range(0, 6).map(rk)))).toEqual({ a: [1, 1] });
      expect(await index.requestKeysFor(M, "a", [ek(1)])).toEqual([undefined]);
    });

    it("a CPU-only first block gives no GPU run", async () => {
      const index = await fresh();
      await index.add(M, "a", "cpu", null, [rk(0)]);
      await index.add(M, "a", "gpu", null, [rk(1)]);
      expect(byEngine(await index.lookup(M, [rk(0), rk(1)]))).toEqual({ a: [0, 2] });
    });

    it("evicting unknown keys, or from a tier not holding them, changes nothing", async () => {
      const index = await fresh();
      await index.add(M, "a", "gpu", [ek(0)], [rk(0)]);
      await index.evict(M, "a", "gpu", [ek(7)]);
      await index.evict(M, "a", "cpu", [ek(0)]);
      await index.evict(M, "nobody", "gpu", [ek(0)]);
      expect(byEngine(await index.lookup(M, [rk(0)]))).toEqual({ a: [1, 1] });
      const snap = await index.snapshot(M, "a");
      expect([...snap.copies.gpu]).toEqual([[rk(0), 1]]);
      expect(snap.copies.cpu.size).toBe(0);
    });

    it("speculative entries (null engine keys) are added and cleared", async () => {
      const index = await fresh();
      await index.add(M, "a", "gpu", null, [rk(0), rk(1)]);
      expect(byEngine(await index.lookup(M, [rk(0), rk(1)]))).toEqual({ a: [2, 2] });
      expect((await index.snapshot(M, "a")).engineToRequest.size).toBe(0);
      await index.clear(M, "a");
      expect(await index.lookup(M, [rk(0), rk(1)])).toEqual([]);
    });

    it("clear removes one engine and keeps the others", async () => {
      const index = await fresh();
      await index.add(M, "a", "gpu", [ek(0), ek(1)], [rk(0), rk(1)]);
      await index.add(M, "b", "cpu", [ek(0), ek(1)], [rk(0), rk(1)]);
      await index.clear(M, "a");
      expect(byEngine(await index.lookup(M, [rk(0), rk(1)]))).toEqual({ b: [0, 2] });
      expect(await index.requestKeysFor(M, "a", [ek(0)])).toEqual([undefined]);
      expect(await index.requestKeysFor(M, "b", [ek(0), ek(1)])).toEqual([rk(0), rk(1)]);
      expect(await index.size()).toBe(2);
      // A cleared engine is still known and can be filled again.
      expect(await index.engines(M)).toEqual(expect.arrayContaining(["a", "b"]));
      await index.add(M, "a", "gpu", [ek(0)], [rk(0)]);
      expect(byEngine(await index.lookup(M, [rk(0)]))).toEqual({ a: [1, 1], b: [0, 1] });
    });

    it("forget leaves no trace of the engine", async () => {
      const index = await fresh();
      await index.add(M, "a", "gpu", [ek(0)], [rk(0)]);
      await index.add(M, "b", "gpu", [ek(0)], [rk(0)]);
      await index.apply(M, "a", [], { checkpoint: 5n });
      await index.forget(M, "a");
      expect(await index.engines(M)).toEqual(["b"]);
      expect(await index.checkpoint(M, "a")).toBeUndefined();
      expect(byEngine(await index.lookup(M, [rk(0)]))).toEqual({ b: [1, 1] });
      // A new engine after a forget must not inherit anything.
      await index.add(M, "c", "cpu", null, [rk(0)]);
      expect(byEngine(await index.lookup(M, [rk(0)]))).toEqual({ b: [1, 1], c: [0, 1] });
      await index.forget(M, "never-seen");
    });

    it("apply runs ops in order and honours the checkpoint guard", async () => {
      const index = await fresh();
      const ops = [
        {
          kind: "add" as const,
          tier: "gpu" as const,
          engineKeys: [ek(0), ek(1)],
          requestKeys: [rk(0), rk(1)],
        },
        { kind: "evict" as const, tier: "gpu" as const, engineKeys: [ek(1)] },
      ];
      expect(await index.apply(M, "a", ops, { checkpoint: 10n, meta: "seq=3" })).toBe(true);
      expect(await index.checkpoint(M, "a")).toEqual({ seq: 10n, meta: "seq=3" });
      // Redelivery of the same message, or an older one, is skipped.
      expect(await index.apply(M, "a", ops, { checkpoint: 10n })).toBe(false);
      expect(await index.apply(M, "a", ops, { checkpoint: 9n })).toBe(false);
      expect(byEngine(await index.lookup(M, [rk(0), rk(1)]))).toEqual({ a: [1, 1] });
      expect((await index.snapshot(M, "a")).copies.gpu).toEqual(new Map([[rk(0), 1]]));
      expect(await index.apply(M, "a", [{ kind: "clear" }], { checkpoint: 11n })).toBe(true);
      expect(await index.checkpoint(M, "a")).toEqual({ seq: 11n, meta: "" });
      expect(await index.lookup(M, [rk(0)])).toEqual([]);
      // Checkpoints are per engine.
      expect(await index.apply(M, "b", ops, { checkpoint: 3n })).toBe(true);
    });

    it("apply refuses to write past a hole: the stored checkpoint is below `after`", async () => {
      const index = await fresh();
      const add = (i: number) => [
        { kind: "add" as const, tier: "gpu" as const, engineKeys: [ek(i)], requestKeys: [rk(i)] },
      ];
      // Nothing stored yet but the caller stored 4 before: the store lost it.
      expect(await index.apply(M, "a", add(0), { checkpoint: 5n, after: 4n })).toBe(false);
      expect(await index.checkpoint(M, "a")).toBeUndefined();
      expect(await index.apply(M, "a", add(0), { checkpoint: 4n })).toBe(true);
      expect(await index.apply(M, "a", add(1), { checkpoint: 7n, after: 6n })).toBe(false);
      expect(byEngine(await index.lookup(M, [rk(0), rk(1)]))).toEqual({ a: [1, 1] });
      expect(await index.checkpoint(M, "a")).toEqual({ seq: 4n, meta: "" });
      // The stored checkpoint is the expected one (or newer): applied.
      expect(await index.apply(M, "a", add(1), { checkpoint: 7n, after: 4n })).toBe(true);
      expect(byEngine(await index.lookup(M, [rk(0), rk(1)]))).toEqual({ a: [2, 2] });
    });

    it("mismatched key lists are rejected and change nothing", async () => {
      const index = await fresh();
      await expect(index.add(M, "a", "gpu", [ek(0)], [rk(0), rk(1)])).rejects.toThrow(/must match/);
      expect(await index.lookup(M, [rk(0)])).toEqual([]);
    });

    it("snapshot shows the engine mapping and copies", async () => {
      const index = await fresh();
      await index.add(M, "a", "gpu", [ek(0), ek(1)], [rk(0), rk(1)]);
      await index.add(M, "a", "gpu", [ek(1)], [rk(1)]);
      await index.add(M, "a", "cpu", [ek(2)], [rk(2)]);
      const snap = await index.snapshot(M, "a");
      expect(snap.engineToRequest).toEqual(
        new Map([
          [ek(0), rk(0)],
          [ek(1), rk(1)],
          [ek(2), rk(2)],
        ]),
      );
      expect(snap.copies.gpu).toEqual(
        new Map([
          [rk(0), 1],
          [rk(1), 2],
        ]),
      );
      expect(snap.copies.cpu).toEqual(new Map([[rk(2), 1]]));
      expect(await index.size()).toBe(3);
      const none = await index.snapshot(M, "zz");
      expect(none.engineToRequest.size + none.copies.gpu.size + none.copies.cpu.size).toBe(0);
    });

    it("models are isolated from each other", async () => {
      const index = await fresh();
      await index.add(M, "a", "gpu", null, [rk(0)]);
      await index.add("other/model", "a", "gpu", null, [rk(5)]);
      expect(await index.lookup("other/model", [rk(0)])).toEqual([]);
      expect(byEngine(await index.lookup("other/model", [rk(5)]))).toEqual({ a: [1, 1] });
      expect((await index.models()).sort()).toEqual([M, "other/model"].sort());
    });

    it("many engines share blocks and keep their own runs", async () => {
      const index = await fresh();
      const engines = range(0, 70).map((i) => `pod-${i}`);
      await Promise.all(
        engines.map((e, i) =>
          index.add(M, e, i % 2 === 0 ? "gpu" : "cpu", null, range(0, 1 + (i % 9)).map(rk)),
        ),
      );
      const got = byEngine(await index.lookup(M, range(0, 12).map(rk)));
      expect(Object.keys(got)).toHaveLength(70);
      for (const [i, e] of engines.entries()) {
        const blocks = 1 + (i % 9);
        expect(got[e]).toEqual([i % 2 === 0 ? blocks : 0, blocks]);
      }
    });

    it("generation marker is set and removed by reset", async () => {
      const index = await fresh();
      expect(await index.generation()).toBeUndefined();
      await index.setGeneration("g1");
      expect(await index.generation()).toBe("g1");
      await index.add(M, "a", "gpu", [ek(0)], [rk(0)]);
      await index.reset();
      expect(await index.generation()).toBeUndefined();
      expect(await index.lookup(M, [rk(0)])).toEqual([]);
      expect(await index.models()).toEqual([]);
      expect(await index.size()).toBe(0);
      await index.add(M, "b", "gpu", [ek(0)], [rk(0)]);
      expect(byEngine(await index.lookup(M, [rk(0)]))).toEqual({ b: [1, 1] });
    });
  });
}
