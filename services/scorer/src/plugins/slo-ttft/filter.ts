import type { CycleState } from "../../framework/cycle.ts";
import type { Handle, TtftModel } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Filter } from "../../framework/plugin.ts";
import type { Endpoint, PickOutcome } from "../../framework/types.ts";
import { predictedTtftMs } from "../predicted-ttft/ttft.ts";

export const SLO_TTFT_FILTER = "slo-ttft-filter";

export type OnUnattainable = "best-effort" | "reject";

/**
 * Keeps the endpoints whose predicted TTFT meets the request's `x-llm-d-slo-ttft-ms`. When none can,
 * as llm-d's latency admitter does with `best-effort` (the default): a sheddable request (negative
 * priority) is refused, so the pick fails with SLO_UNATTAINABLE and the gateway answers 429 at once;
 * any other request is served best-effort on every endpoint (outcome OK, best first, noted in the
 * message). `reject` refuses every request whose objective cannot be met.
 */
export class SloTtftFilter implements Filter {
  readonly type = SLO_TTFT_FILTER;
  readonly name: string;
  readonly requires = ["tokens", "prefix"] as const;
  readonly emptyOutcome: PickOutcome = "SLO_UNATTAINABLE";
  private readonly model: TtftModel;
  private readonly onUnattainable: OnUnattainable;
  private readonly headroom: number;

  constructor(
    model: TtftModel,
    opts: { onUnattainable: OnUnattainable; headroom: number },
    name: string = SLO_TTFT_FILTER,
  ) {
    this.model = model;
    this.onUnattainable = opts.onUnattainable;
    this.headroom = opts.headroom;
    this.name = name;
  }

  filter(cycle: CycleState, endpoints: readonly Endpoint[]): readonly Endpoint[] {
    const slo = cycle.request.sloTtftMs;
    if (slo === undefined || slo <= 0) return endpoints;
    const budget = slo * (1 - this.headroom);
    const kept = endpoints.filter((e) => predictedTtftMs(cycle, this.model, e) <= budget);
    if (kept.length > 0) return kept;
    const best = Math.min(...endpoints.map((e) => predictedTtftMs(cycle, this.model, e)));
    const message = `no endpoint can meet TTFT objective ${slo} ms (best predicted ${Math.round(best)} ms)`;
    if (this.onUnattainable === "reject" || cycle.request.priority < 0) {
      cycle.note(message);
      return [];
    }
    cycle.note(`${message}; served best-effort`);
    return endpoints;
  }
}

export function sloTtftFilterFactory(name: string, params: Params, handle: Handle): SloTtftFilter {
  const onUnattainable = params.oneOf<OnUnattainable>(
    "onUnattainable",
    ["best-effort", "reject"],
    "best-effort",
  );
  const headroom = params.number("headroom", 0, { min: 0, max: 0.99 });
  return new SloTtftFilter(handle.ttft, { onUnattainable, headroom }, name);
}
