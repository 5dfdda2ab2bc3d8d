import type { CycleState } from "../../framework/cycle.ts";
import type { Handle, TtftModel } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Scorer } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";
import { predictedTtftMs } from "./ttft.ts";

export const PREDICTED_TTFT_SCORER = "predicted-ttft-scorer";

/**
 * inferd: `score = bestTtft / ttft` over the candidates, where ttft is the online-fitted prediction for
 * this request on the endpoint as it is now (see ttft.ts). Ratio, not min-max: an endpoint twice as slow
 * scores 0.5 however close the candidates are, so small differences are not blown up to 0..1.
 */
export class PredictedTtftScorer implements Scorer {
  readonly type = PREDICTED_TTFT_SCORER;
  readonly name: string;
  readonly requires = ["tokens", "prefix"] as const;
  private readonly model: TtftModel;

  constructor(model: TtftModel, name: string = PREDICTED_TTFT_SCORER) {
    this.model = model;
    this.name = name;
  }

  score(cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number> {
    const ttft = endpoints.map((e) => predictedTtftMs(cycle, this.model, e));
    const best = Math.min(...ttft);
    const out = new Map<string, number>();
    endpoints.forEach((e, i) => {
      const t = ttft[i]!;
      out.set(e.pod, t <= 0 ? 1 : Math.max(0, best) / t);
    });
    return out;
  }
}

export function predictedTtftScorerFactory(
  name: string,
  _params: Params,
  handle: Handle,
): PredictedTtftScorer {
  return new PredictedTtftScorer(handle.ttft, name);
}
