import { expect, it } from "vitest";
import { InMemoryBlockIndex } from "../../src/index/in-memory.ts";
import { describeIndexContract } from "./contract.ts";

describeIndexContract("in-memory", async () => {
  const index = new InMemoryBlockIndex();
  return { index, cleanup: () => index.close() };
});

it("kv-index - in-memory lookupSync answers like lookup", async () => {
  const index = new InMemoryBlockIndex();
  await index.add("m", "a", "gpu", null, [1n, 2n, 3n]);
  expect(index.lookupSync("m", [1n, 2n, 9n])).toEqual(await index.lookup("m", [1n, 2n, 9n]));
  expect(index.lookupSync("m", [1n, 2n, 9n])).toEqual([{ engine: "a", gpuBlocks: 2, anyBlocks: 2 }]);
});
