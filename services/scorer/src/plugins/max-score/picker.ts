import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Picker } from "../../framework/plugin.ts";
import type { ScoredEndpoint } from "../../framework/types.ts";

export const MAX_SCORE_PICKER = "max-score-picker";

/**
 * Highest total first, ties broken at random (so equal endpoints share load). Returns at most
 * `maxNumOfEndpoints` (0 = all: inferd's default, so the gateway has a full fallback order).
 */
export class MaxScorePicker implements Picker {
  readonly type = MAX_SCORE_PICKER;
  readonly name: string;
  private readonly max: number;

  constructor(maxNumOfEndpoints = 0, name: string = MAX_SCORE_PICKER) {
    this.max = maxNumOfEndpoints;
    this.name = name;
  }

  pick(cycle: CycleState, scored: readonly ScoredEndpoint[]): ScoredEndpoint[] {
    const keyed = scored.map((s) => ({ s, tie: cycle.random() }));
    keyed.sort((a, b) => b.s.total - a.s.total || a.tie - b.tie);
    const out = keyed.map((k) => k.s);
    return this.max > 0 ? out.slice(0, this.max) : out;
  }
}

export function maxScorePickerFactory(name: string, params: Params, _handle: Handle): MaxScorePicker {
  return new MaxScorePicker(params.int("maxNumOfEndpoints", 0, { min: 0 }), name);
}
