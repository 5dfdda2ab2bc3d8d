import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Scorer } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";
import { lowerIsBetter } from "../shared.ts";

export const QUEUE_SCORER = "queue-scorer";

/** Shortest waiting queue (vllm:num_requests_waiting) scores 1, longest 0, linear in between. */
export class QueueScorer implements Scorer {
  readonly type = QUEUE_SCORER;
  readonly name: string;

  constructor(name: string = QUEUE_SCORER) {
    this.name = name;
  }

  score(_cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number> {
    return lowerIsBetter(endpoints, (e) => e.metrics?.waiting);
  }
}

export function queueScorerFactory(name: string, _params: Params, _handle: Handle): QueueScorer {
  return new QueueScorer(name);
}
