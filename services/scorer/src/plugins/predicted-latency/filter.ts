import type { CycleState } from "../../framework/cycle.ts";
import type { Handle, LatencyPredictor } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Filter } from "../../framework/plugin.ts";
import type { Endpoint, PickOutcome } from "../../framework/types.ts";
import { predictedLatency, sloHeadroom } from "./latency.ts";

export const PREDICTED_LATENCY_FILTER = "predicted-latency-filter";

export type OnUnattainable = "best-effort" | "reject";

/**
 * Keeps the endpoints the learned latency model predicts to meet the request's TTFT and TPOT
 * objectives with at least `headroom` to spare. When none can: `best-effort` keeps them all and
 * flags SLO_UNATTAINABLE; `reject` removes them all (the pick fails with SLO_UNATTAINABLE).
 * Requests without objectives pass untouched.
 */
export class PredictedLatencyFilter implements Filter {
  readonly type = PREDICTED_LATENCY_FILTER;
  readonly name: string;
  readonly requires = ["tokens", "prefix"] as const;
  readonly emptyOutcome: PickOutcome = "SLO_UNATTAINABLE";
  readonly #model: LatencyPredictor;
  readonly #onUnattainable: OnUnattainable;
  readonly #headroom: number;

  constructor(
    model: LatencyPredictor,
    opts: { onUnattainable: OnUnattainable; headroom: number },
    name: string = PREDICTED_LATENCY_FILTER,
  ) {
    this.#model = model;
    this.#onUnattainable = opts.onUnattainable;
    this.#headroom = opts.headroom;
    this.name = name;
  }

  filter(cycle: CycleState, endpoints: readonly Endpoint[]): readonly Endpoint[] {
    const headrooms = endpoints.map((e) => sloHeadroom(cycle, predictedLatency(cycle, this.#model, e)));
    if (headrooms.every((h) => h === undefined)) return endpoints;
    const kept = endpoints.filter((_, i) => headrooms[i]! >= this.#headroom);
    if (kept.length > 0) return kept;
    const best = Math.max(...headrooms.map((h) => h ?? Number.NEGATIVE_INFINITY));
    const message = `no endpoint is predicted to meet the latency objectives (best headroom ${(best * 100).toFixed(0)}%)`;
    if (this.#onUnattainable === "reject") {
      cycle.note(message);
      return [];
    }
    cycle.flag("SLO_UNATTAINABLE", message);
    return endpoints;
  }
}

export function predictedLatencyFilterFactory(
  name: string,
  params: Params,
  handle: Handle,
): PredictedLatencyFilter {
  const onUnattainable = params.oneOf<OnUnattainable>(
    "onUnattainable",
    ["best-effort", "reject"],
    "best-effort",
  );
  const headroom = params.number("headroom", 0, { min: 0, max: 0.99 });
  return new PredictedLatencyFilter(handle.latency, { onUnattainable, headroom }, name);
}
