import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Picker } from "../../framework/plugin.ts";
import type { ScoredEndpoint } from "../../framework/types.ts";

export const WEIGHTED_RANDOM_PICKER = "weighted-random-picker";

/**
 * Random order weighted by score (A-Res: key = u^(1/score), largest first), so an endpoint twice as good
 * is about twice as likely to come first. Zero-score endpoints go last. Spreads load across near-equal
 * endpoints where max-score would always pick the same one.
 */
export class WeightedRandomPicker implements Picker {
  readonly type = WEIGHTED_RANDOM_PICKER;
  readonly name: string;
  private readonly max: number;

  constructor(maxNumOfEndpoints = 0, name: string = WEIGHTED_RANDOM_PICKER) {
    this.max = maxNumOfEndpoints;
    this.name = name;
  }

  pick(cycle: CycleState, scored: readonly ScoredEndpoint[]): ScoredEndpoint[] {
    const keyed = scored.map((s) => {
      const u = cycle.random();
      return { s, key: s.total > 0 ? u ** (1 / s.total) : -1 + u };
    });
    keyed.sort((a, b) => b.key - a.key);
    const out = keyed.map((k) => k.s);
    return this.max > 0 ? out.slice(0, this.max) : out;
  }
}

export function weightedRandomPickerFactory(
  name: string,
  params: Params,
  _handle: Handle,
): WeightedRandomPicker {
  return new WeightedRandomPicker(params.int("maxNumOfEndpoints", 0, { min: 0 }), name);
}
