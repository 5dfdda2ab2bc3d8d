import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Scorer } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";

export const LOAD_AWARE_SCORER = "load-aware-scorer";

export type LoadSignal = "queue" | "inflightTokens";

export interface LoadAwareOptions {
  /** Load at which the score reaches 0 (waiting requests, or tokens for inflightTokens). */
  threshold: number;
  signal: LoadSignal;
}

/**
 * llm-d's load-aware scorer: an idle endpoint scores 0.5, a loaded one `0.5 * (1 - load/threshold)`,
 * 0 at or beyond the threshold. The "0.5 for idle" leaves room above for spare capacity signals,
 * as upstream does. With `signal: inflightTokens` the load is the prompt tokens in flight on the
 * endpoint as all scorer replicas see them (lifecycle events), which needs no scraping.
 */
export class LoadAwareScorer implements Scorer {
  readonly type = LOAD_AWARE_SCORER;
  readonly name: string;
  private readonly options: LoadAwareOptions;

  constructor(options: LoadAwareOptions, name: string = LOAD_AWARE_SCORER) {
    this.options = options;
    this.name = name;
  }

  score(_cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number> {
    const { threshold, signal } = this.options;
    const out = new Map<string, number>();
    for (const e of endpoints) {
      const load = signal === "queue" ? e.metrics?.waiting : e.inflight.tokens;
      if (load === undefined) continue;
      out.set(e.pod, load <= 0 ? 0.5 : 0.5 * (1 - Math.min(load, threshold) / threshold));
    }
    return out;
  }
}

export function loadAwareScorerFactory(name: string, params: Params, _handle: Handle): LoadAwareScorer {
  const signal = params.oneOf<LoadSignal>("signal", ["queue", "inflightTokens"], "queue");
  const threshold = params.number("threshold", signal === "queue" ? 128 : 65536, { min: Number.MIN_VALUE });
  return new LoadAwareScorer({ threshold, signal }, name);
}
