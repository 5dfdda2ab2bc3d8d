import { escapeToken } from "@inferd/protocol";
import { Cluster, Redis } from "ioredis";
import type { BlockSet } from "./engine-blocks.ts";

export interface KvDiff {
  /** Blocks the engines hold by their own events. */
  engineBlocks: number;
  /** Held by an engine, absent from the index (a lost BlockStored). */
  missing: number;
  /** In the index, no longer held by the engine (a lost BlockRemoved or AllBlocksCleared). */
  extra: number;
}

/** Compares the engines' own block sets with the index's, per engine. Pure. */
export function compareBlocks(
  engines: ReadonlyMap<string, BlockSet>,
  index: ReadonlyMap<string, ReadonlySet<string>>,
): KvDiff {
  const diff: KvDiff = { engineBlocks: 0, missing: 0, extra: 0 };
  for (const [pod, blocks] of engines) {
    const indexed = index.get(pod) ?? new Set<string>();
    diff.engineBlocks += blocks.size;
    for (const h of blocks.keys()) if (!indexed.has(h)) diff.missing++;
    for (const h of indexed) if (!blocks.has(h)) diff.extra++;
  }
  return diff;
}

/**
 * kv-index's view as stored in Redis (standalone or Cluster): per engine (rank 0 = the pod name),
 * the engine hashes it holds (fields of `kvi:{m}:h:<id>`; `s<rk>` fields have no engine hash).
 */
export class IndexView {
  readonly #redis: Redis | Cluster;

  constructor(redis: { url?: string; clusterNodes?: readonly string[] }) {
    this.#redis = redis.clusterNodes?.length
      ? new Cluster(
          redis.clusterNodes.map((n) => {
            const [host, port] = n.split(":");
            return { host: host!, port: Number(port) };
          }),
        )
      : new Redis(redis.url ?? "redis://127.0.0.1:6379");
  }

  async blocks(model: string, pods: readonly string[]): Promise<Map<string, Set<string>>> {
    const p = `kvi:{${escapeToken(model)}}:`;
    const out = new Map<string, Set<string>>();
    for (const pod of pods) {
      const id = await this.#redis.hget(`${p}pid`, pod);
      const fields = id === null ? [] : await this.#redis.hkeys(`${p}h:${id}`);
      out.set(pod, new Set(fields.filter((f) => !f.startsWith("s"))));
    }
    return out;
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
