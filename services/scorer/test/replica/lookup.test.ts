import { InMemoryBlockIndex } from "@inferd/block-index";
import { requestKeys } from "@inferd/kv-blocks";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RequestKeyCache } from "../../src/replica/key-cache.ts";
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

  it("index replica - keys from the cache, hashed only as far as the walk goes, answer like the hasher's", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 24 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 24 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c#dp1"), fc.nat(8), fc.nat(5), fc.boolean()), {
          maxLength: 8,
        }),
        async (shared, tails, holdings) => {
          // Tiny alphabets and blocks: shared prefixes, fingerprint-equal blocks, generation flips.
          const prompts = tails.map((t) => [...shared, ...t]);
          const index = new InMemoryBlockIndex();
          for (const [engine, blocks, prompt, gpu] of holdings) {
            const keys = requestKeys(M, prompts[prompt % prompts.length]!, { blockSize: BS });
            await index.add(M, engine, gpu ? "gpu" : "cpu", null, keys.slice(0, blocks));
          }
          const cache = new RequestKeyCache(8);
          for (const p of [...prompts, ...prompts]) {
            const q = query({ tokens: p, prompt: { kind: "tokens", ids: p } });
            expect(replicaLookup(index, BS, q, cache)).toEqual(replicaLookup(index, BS, q));
          }
        },
      ),
    );
  });
});
