import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Scorer } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";

export const KV_CACHE_UTILIZATION_SCORER = "kv-cache-utilization-scorer";

/** `1 - kv_cache_usage`: the emptier the KV cache, the better. */
export class KvCacheUtilizationScorer implements Scorer {
  readonly type = KV_CACHE_UTILIZATION_SCORER;
  readonly name: string;

  constructor(name: string = KV_CACHE_UTILIZATION_SCORER) {
    this.name = name;
  }

  score(_cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of endpoints) {
      const usage = e.metrics?.kvUsage;
      if (usage !== undefined) out.set(e.pod, 1 - Math.min(1, Math.max(0, usage)));
    }
    return out;
  }
}

export function kvCacheUtilizationScorerFactory(
  name: string,
  _params: Params,
  _handle: Handle,
): KvCacheUtilizationScorer {
  return new KvCacheUtilizationScorer(name);
}
