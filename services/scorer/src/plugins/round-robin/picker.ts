import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Picker } from "../../framework/plugin.ts";
import type { ScoredEndpoint } from "../../framework/types.ts";

export const ROUND_ROBIN_PICKER = "round-robin-picker";

/**
 * inferd: candidates ordered by pod name, rotated by one on every pick (the K8s Service baseline).
 * The counter is per scorer replica; with several replicas the rotation interleaves.
 */
export class RoundRobinPicker implements Picker {
  readonly type = ROUND_ROBIN_PICKER;
  readonly name: string;
  private readonly max: number;
  private next = 0;

  constructor(maxNumOfEndpoints = 0, name: string = ROUND_ROBIN_PICKER) {
    this.max = maxNumOfEndpoints;
    this.name = name;
  }

  pick(_cycle: CycleState, scored: readonly ScoredEndpoint[]): ScoredEndpoint[] {
    if (scored.length === 0) return [];
    const sorted = [...scored].sort((a, b) =>
      a.endpoint.pod < b.endpoint.pod ? -1 : a.endpoint.pod > b.endpoint.pod ? 1 : 0,
    );
    const start = this.next % sorted.length;
    this.next = (this.next + 1) % 1_000_000_007;
    const out = [...sorted.slice(start), ...sorted.slice(0, start)];
    return this.max > 0 ? out.slice(0, this.max) : out;
  }
}

export function roundRobinPickerFactory(name: string, params: Params, _handle: Handle): RoundRobinPicker {
  return new RoundRobinPicker(params.int("maxNumOfEndpoints", 0, { min: 0 }), name);
}
