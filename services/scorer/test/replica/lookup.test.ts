import { InMemoryBlockIndex } from "@inferd/block-index";
import { requestKeys } from "@inferd/kv-blocks";
import { describe, expect, it } from "vitest";
import { replicaLookup } from "../../src/replica/lookup.ts";

const M = "Qwen/Qwen3-32B";
const BS = 4;
const tokens = Array.from({ length: 20 }, (_, i) => i + 1);
const query = (
  extra: Partial<Parameters<typeof replicaLookup>[2]> = {},
): Parameters<typeof replicaLookup>[2] => ({
  model: M,
  lora: undefined,
  tokens,
  prompt: { kind: "tokens" as const, ids: tokens },
  candidatePods: [] as string[],
  cacheSalt: "",
  ...extra,
});

describe("index replica - lookup", () => {
  it("index replica - matches the prompt's request keys, folds DP ranks into their pod, filters candidates", async () => {
    const keys = requestKeys(M, Uint32Array.from(tokens), { blockSize: BS });
    expect(keys).toHaveLength(5);
    const index = new InMemoryBlockIndex();
    await index.add(M, "a", "gpu", null, keys.slice(0, 3));
    await index.add(M, "b", "gpu", null, keys.slice(0, 1));
    await index.add(M, "b", "cpu", null, keys.slice(0, 4));
    await index.add(M, "b#dp1", "gpu", null, keys.slice(0, 2));
    const answer = replicaLookup(index, BS, query());
    expect(answer).toEqual({
      totalBlocks: 5,
      blockSize: BS,
      promptTokens: 20,
      pods: [
        { pod: "b", gpuBlocks: 2, cpuBlocks: 4, matchedBlocks: 4 },
        { pod: "a", gpuBlocks: 3, cpuBlocks: 3, matchedBlocks: 3 },
      ],
      inProcess: true,
    });
    expect(replicaLookup(index, BS, query({ candidatePods: ["a"] })).pods.map((p) => p.pod)).toEqual(["a"]);
    // A LoRA prompt has other keys: nothing matches.
    expect(replicaLookup(index, BS, query({ lora: "sql" })).pods).toEqual([]);
  });
});
