import type { CycleState } from "../../framework/cycle.ts";
import type { Handle, TtftModel } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Filter } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";
import { predictedTtftMs } from "../predicted-ttft/ttft.ts";

export const PREFIX_CACHE_AFFINITY_FILTER = "prefix-cache-affinity-filter";

export type TtftSource = "prefillThroughput" | "latencyPredictor";

export interface PrefixAffinityOptions {
  affinityThreshold: number;
  explorationProbability: number;
  /** 0 = always stick. */
  maxTTFTPenaltyMs: number;
  ttftSource: TtftSource;
  /** Tokens per second, for ttftSource prefillThroughput. */
  peakPrefillThroughput: number;
}

/** Cycle key set to true when the filter broke stickiness because the sticky endpoints were saturated. */
export const AFFINITY_BROKEN = "prefix-affinity:broken";

/**
 * "Sticky until saturated" (llm-d): keep only endpoints whose prefix score is at least
 * `affinityThreshold`, unless the best of them is predicted to reach first token more than
 * `maxTTFTPenaltyMs` later than the best other endpoint, in which case keep all. No sticky endpoint
 * (or all sticky) keeps all. With probability `explorationProbability` the gate is skipped.
 */
export class PrefixCacheAffinityFilter implements Filter {
  readonly type = PREFIX_CACHE_AFFINITY_FILTER;
  readonly name: string;
  readonly requires = ["tokens", "prefix"] as const;
  /** Non-sticky endpoints remain fallbacks after the sticky ones. */
  readonly soft = true;
  private readonly opts: PrefixAffinityOptions;
  private readonly model: TtftModel;

  constructor(opts: PrefixAffinityOptions, model: TtftModel, name: string = PREFIX_CACHE_AFFINITY_FILTER) {
    this.opts = opts;
    this.model = model;
    this.name = name;
  }

  filter(cycle: CycleState, endpoints: readonly Endpoint[]): readonly Endpoint[] {
    const { affinityThreshold, explorationProbability, maxTTFTPenaltyMs } = this.opts;
    if (explorationProbability > 0 && cycle.random() < explorationProbability) return endpoints;
    const sticky: Endpoint[] = [];
    const others: Endpoint[] = [];
    for (const e of endpoints) (cycle.prefixRatio(e) >= affinityThreshold ? sticky : others).push(e);
    if (sticky.length === 0 || others.length === 0) return endpoints;
    if (maxTTFTPenaltyMs <= 0) return sticky;
    const bestSticky = Math.min(...sticky.map((e) => this.ttftMs(cycle, e)));
    const bestOther = Math.min(...others.map((e) => this.ttftMs(cycle, e)));
    if (bestSticky - bestOther > maxTTFTPenaltyMs) {
      cycle.set(AFFINITY_BROKEN, true);
      return endpoints;
    }
    return sticky;
  }

  ttftMs(cycle: CycleState, e: Endpoint): number {
    if (this.opts.ttftSource === "latencyPredictor") return predictedTtftMs(cycle, this.model, e);
    return (
      ((e.inflight.prefillTokens + cycle.uncachedTokens(e.pod)) / this.opts.peakPrefillThroughput) * 1000
    );
  }
}

export function prefixCacheAffinityFilterFactory(
  name: string,
  params: Params,
  handle: Handle,
): PrefixCacheAffinityFilter {
  const opts: PrefixAffinityOptions = {
    affinityThreshold: params.number("affinityThreshold", 0.8, { min: 0, max: 1 }),
    explorationProbability: params.number("explorationProbability", 0, { min: 0, max: 1 }),
    maxTTFTPenaltyMs: params.number("maxTTFTPenaltyMs", 18_000, { min: 0 }),
    ttftSource: params.oneOf<TtftSource>(
      "ttftSource",
      ["prefillThroughput", "latencyPredictor"],
      "prefillThroughput",
    ),
    peakPrefillThroughput: params.number("peakPrefillThroughput", 15_928, { min: Number.MIN_VALUE }),
  };
  params.ignore("prefillCalibrationFile", "prefillCalibrationFingerprint", "prefillCalibrationRequired");
  return new PrefixCacheAffinityFilter(opts, handle.ttft, name);
}
