import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Picker } from "../../framework/plugin.ts";
import type { ScoredEndpoint } from "../../framework/types.ts";

export const RANDOM_PICKER = "random-picker";

/** A uniformly random order of the candidates, ignoring scores. */
export class RandomPicker implements Picker {
  readonly type = RANDOM_PICKER;
  readonly name: string;
  private readonly max: number;

  constructor(maxNumOfEndpoints = 0, name: string = RANDOM_PICKER) {
    this.max = maxNumOfEndpoints;
    this.name = name;
  }

  pick(cycle: CycleState, scored: readonly ScoredEndpoint[]): ScoredEndpoint[] {
    const out = [...scored];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(cycle.random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return this.max > 0 ? out.slice(0, this.max) : out;
  }
}

export function randomPickerFactory(name: string, params: Params, _handle: Handle): RandomPicker {
  return new RandomPicker(params.int("maxNumOfEndpoints", 0, { min: 0 }), name);
}
