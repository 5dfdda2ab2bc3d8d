import { InMemoryBlockIndex } from "@inferd/block-index";
import { describe, expect, it } from "vitest";
import { bootstrapReplica, opsFromSnapshot } from "../../src/replica/bootstrap.ts";

const M = "m";

describe("index replica - bootstrap", () => {
  it("index replica - copies every engine with its copies, mappings and checkpoint", async () => {
    const source = new InMemoryBlockIndex();
    await source.apply(
      M,
      "a",
      [{ kind: "add", tier: "gpu", engineKeys: [1n, 2n], requestKeys: [10n, 20n] }],
      {
        checkpoint: 7n,
        meta: "3:100",
      },
    );
    // A second copy of block 10 on GPU, one on CPU, and a speculative block.
    await source.apply(
      M,
      "a",
      [
        { kind: "add", tier: "gpu", engineKeys: [1n], requestKeys: [10n] },
        { kind: "add", tier: "cpu", engineKeys: [1n], requestKeys: [10n] },
        { kind: "add", tier: "gpu", engineKeys: null, requestKeys: [99n] },
      ],
      { checkpoint: 9n, meta: "4:101" },
    );
    await source.apply(M, "b#dp1", [{ kind: "add", tier: "gpu", engineKeys: [5n], requestKeys: [10n] }], {
      checkpoint: 4n,
    });
    const target = new InMemoryBlockIndex();
    const r = await bootstrapReplica(source, target);
    expect(r).toEqual({ engines: 2, startSeq: 5n });
    for (const engine of ["a", "b#dp1"]) {
      expect(await target.snapshot(M, engine)).toEqual(await source.snapshot(M, engine));
      expect(await target.checkpoint(M, engine)).toEqual(await source.checkpoint(M, engine));
    }
    expect(await target.lookup(M, [10n, 20n])).toEqual(await source.lookup(M, [10n, 20n]));
    // Evicting by engine key works on the copy: the mapping came along.
    await target.evict(M, "a", "gpu", [2n]);
    expect(await target.lookup(M, [10n, 20n], new Set(["a"]))).toEqual([
      { engine: "a", gpuBlocks: 1, anyBlocks: 1 },
    ]);
  });

  it("index replica - an engine without a checkpoint, or an empty source, means replay from the start", async () => {
    const empty = await bootstrapReplica(new InMemoryBlockIndex(), new InMemoryBlockIndex());
    expect(empty).toEqual({ engines: 0, startSeq: 1n });
    const source = new InMemoryBlockIndex();
    await source.add(M, "a", "gpu", [1n], [10n]);
    expect((await bootstrapReplica(source, new InMemoryBlockIndex())).startSeq).toBe(1n);
  });

  it("index replica - copying over an existing engine replaces it", async () => {
    const target = new InMemoryBlockIndex();
    await target.add(M, "a", "gpu", [1n, 2n, 3n], [10n, 20n, 30n]);
    const ops = opsFromSnapshot({
      engineToRequest: new Map([[1n, 10n]]),
      copies: { gpu: new Map([[10n, 1]]), cpu: new Map() },
    });
    await target.apply(M, "a", ops);
    expect(await target.lookup(M, [10n, 20n])).toEqual([{ engine: "a", gpuBlocks: 1, anyBlocks: 1 }]);
  });
});
