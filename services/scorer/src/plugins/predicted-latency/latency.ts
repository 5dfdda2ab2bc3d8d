import type { CycleState } from "../../framework/cycle.ts";
import type { LatencyPredictor } from "../../framework/handle.ts";
import type { Endpoint } from "../../framework/types.ts";
import type { Prediction } from "../../state/latency-model.ts";
import { featuresOf, profileOf } from "../../state/latency-trainer.ts";

/** The learned model's TTFT and TPOT for this request on an endpoint, once per cycle and endpoint. */
export function predictedLatency(cycle: CycleState, model: LatencyPredictor, e: Endpoint): Prediction {
  return cycle.memo(`latency:${e.pod}`, () =>
    model.predict(
      cycle.request.baseModel,
      profileOf(e),
      featuresOf(e, cycle.promptTokens, cycle.uncachedTokens(e.pod)),
    ),
  );
}

/**
 * SLO headroom of a prediction: the smallest of (objective − predicted) / objective over the
 * objectives the request carries (`x-llm-d-slo-ttft-ms`, `x-llm-d-slo-tpot-ms`); 1 = instant,
 * 0 = exactly on the objective, negative = predicted to miss. Undefined without objectives.
 */
export function sloHeadroom(cycle: CycleState, p: Prediction): number | undefined {
  const { sloTtftMs, sloTpotMs } = cycle.request;
  let h: number | undefined;
  if (sloTtftMs !== undefined && sloTtftMs > 0) h = (sloTtftMs - p.ttftMs) / sloTtftMs;
  if (sloTpotMs !== undefined && sloTpotMs > 0) {
    const t = (sloTpotMs - p.tpotMs) / sloTpotMs;
    h = h === undefined ? t : Math.min(h, t);
  }
  return h;
}
