import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Scorer } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";
import { lowerIsBetter } from "../shared.ts";

export const RUNNING_REQUESTS_SIZE_SCORER = "running-requests-size-scorer";

/** Fewest running requests (vllm:num_requests_running) scores 1, most 0 (min-max); unknown unscored. */
export class RunningRequestsSizeScorer implements Scorer {
  readonly type = RUNNING_REQUESTS_SIZE_SCORER;
  readonly name: string;

  constructor(name: string = RUNNING_REQUESTS_SIZE_SCORER) {
    this.name = name;
  }

  score(_cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number> {
    return lowerIsBetter(endpoints, (e) => e.metrics?.running);
  }
}

export function runningRequestsSizeScorerFactory(
  name: string,
  _params: Params,
  _handle: Handle,
): RunningRequestsSizeScorer {
  return new RunningRequestsSizeScorer(name);
}
