import { type InMemoryBlockIndex, packKeys, parseEngineId } from "@inferd/block-index";
import { requestKeyHasher, type VllmRules } from "@inferd/kv-blocks";
import type { KvLookupAnswer, KvLookupQuery } from "../framework/handle.ts";
import type { RequestKeyCache } from "./key-cache.ts";

/**
 * Answers a prefix lookup from the in-process replica exactly as kv-index's lookup service
 * does (same request keys, data-parallel ranks folded into their pod, best rank wins), without
 * a network hop. Only for token-id queries: the scorer tokenised already. `rules` are the model
 * pool's vLLM rules (as kv-index's), which only LoRA and salted prompts depend on.
 */
export function replicaLookup(
  index: InMemoryBlockIndex,
  blockSize: number,
  q: KvLookupQuery & { tokens: ArrayLike<number> },
  cache?: RequestKeyCache,
  rules?: VllmRules,
): KvLookupAnswer {
  const tokens = q.tokens;
  // Plain prompts: keys from the cache, hashed only as far as the index walk goes.
  const lazy =
    cache !== undefined && !q.lora && !q.cacheSalt ? cache.lazy(q.model, tokens, blockSize) : undefined;
  const keys =
    lazy?.keys ??
    packKeys(
      requestKeyHasher(q.model).keys(tokens, {
        blockSize,
        loraName: q.lora || null,
        cacheSalt: q.cacheSalt || null,
        ...(rules ? { rules } : {}),
      }),
    );
  const candidates = q.candidatePods.length > 0 ? new Set(q.candidatePods) : undefined;
  const byPod = new Map<
    string,
    { pod: string; gpuBlocks: number; cpuBlocks: number; matchedBlocks: number }
  >();
  for (const m of index.lookupPacked(q.model, keys, undefined, lazy ? (i) => lazy.fill(i) : undefined)) {
    const { pod } = parseEngineId(m.engine);
    if (candidates && !candidates.has(pod)) continue;
    const best = byPod.get(pod);
    if (best === undefined) {
      byPod.set(pod, { pod, gpuBlocks: m.gpuBlocks, cpuBlocks: m.anyBlocks, matchedBlocks: m.anyBlocks });
    } else {
      best.gpuBlocks = Math.max(best.gpuBlocks, m.gpuBlocks);
      best.cpuBlocks = Math.max(best.cpuBlocks, m.anyBlocks);
      best.matchedBlocks = best.cpuBlocks;
    }
  }
  const pods = [...byPod.values()].sort(
    (a, b) => b.matchedBlocks - a.matchedBlocks || b.gpuBlocks - a.gpuBlocks,
  );
  return { totalBlocks: keys.length / 2, blockSize, promptTokens: tokens.length, pods, inProcess: true };
}
