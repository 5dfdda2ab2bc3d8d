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
