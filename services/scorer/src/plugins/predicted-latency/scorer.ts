import type { CycleState } from "../../framework/cycle.ts";
import type { Handle, LatencyPredictor } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Scorer } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";
import { predictedLatency, sloHeadroom } from "./latency.ts";

export const PREDICTED_LATENCY_SCORER = "predicted-latency-scorer";

/**
 * Ranks endpoints by SLO headroom under the learned latency model. With objectives: an endpoint
 * predicted to meet them scores 0.5 + 0.5 × headroom (more headroom, higher), one predicted to
 * miss scores 0.5 × (1 + headroom) down to 0, so any endpoint that meets the objectives outranks
 * every one that misses. Without objectives: `best TTFT / TTFT`, as predicted-ttft-scorer.
 */
export class PredictedLatencyScorer implements Scorer {
  readonly type = PREDICTED_LATENCY_SCORER;
  readonly name: string;
  readonly requires = ["tokens", "prefix"] as const;
  readonly #model: LatencyPredictor;

  constructor(model: LatencyPredictor, name: string = PREDICTED_LATENCY_SCORER) {
    this.#model = model;
    this.name = name;
  }

  score(cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number> {
    const out = new Map<string, number>();
    const predictions = endpoints.map((e) => predictedLatency(cycle, this.#model, e));
    const headrooms = predictions.map((p) => sloHeadroom(cycle, p));
    if (headrooms.every((h) => h === undefined)) {
      const best = Math.min(...predictions.map((p) => p.ttftMs));
      endpoints.forEach((e, i) => {
        const t = predictions[i]!.ttftMs;
        out.set(e.pod, t <= 0 ? 1 : Math.max(0, best) / t);
      });
      return out;
    }
    endpoints.forEach((e, i) => {
      const h = Math.min(1, headrooms[i]!);
      out.set(e.pod, h >= 0 ? 0.5 + 0.5 * h : Math.max(0, 0.5 * (1 + h)));
    });
    return out;
  }
}

export function predictedLatencyScorerFactory(
  name: string,
  _params: Params,
  handle: Handle,
): PredictedLatencyScorer {
  return new PredictedLatencyScorer(handle.latency, name);
}
