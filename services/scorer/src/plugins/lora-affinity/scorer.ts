import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Scorer } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";

export const LORA_AFFINITY_SCORER = "lora-affinity-scorer";

/**
 * For adapter requests: 1.0 where the adapter is running, 0.8 where a LoRA slot is free (it can be
 * loaded without evicting), 0.6 where it is already waiting to load, 0 otherwise (GIE's values).
 * Base-model requests get no preference. Without scraped LoRA metrics an endpoint that lists the
 * adapter in the inventory scores 0.8 (loadable) and the others stay unscored.
 */
export class LoraAffinityScorer implements Scorer {
  readonly type = LORA_AFFINITY_SCORER;
  readonly name: string;

  constructor(name: string = LORA_AFFINITY_SCORER) {
    this.name = name;
  }

  score(cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number> {
    const out = new Map<string, number>();
    const adapter = cycle.request.lora;
    if (!adapter) return out;
    for (const e of endpoints) {
      const m = e.metrics;
      const maxLora = m?.maxLora ?? (e.info.maxLoras > 0 ? e.info.maxLoras : undefined);
      if (m && (m.runningLoras.length > 0 || m.waitingLoras.length > 0 || m.maxLora !== undefined)) {
        if (m.runningLoras.includes(adapter)) out.set(e.pod, 1);
        else if (maxLora !== undefined && new Set([...m.runningLoras, ...m.waitingLoras]).size < maxLora)
          out.set(e.pod, 0.8);
        else if (m.waitingLoras.includes(adapter)) out.set(e.pod, 0.6);
        else out.set(e.pod, 0);
      } else if (e.info.loraAdapters.includes(adapter)) {
        out.set(e.pod, 0.8);
      }
    }
    return out;
  }
}

export function loraAffinityScorerFactory(
  name: string,
  _params: Params,
  _handle: Handle,
): LoraAffinityScorer {
  return new LoraAffinityScorer(name);
}
