import type { CycleState } from "../../framework/cycle.ts";
import type { TtftModel } from "../../framework/handle.ts";
import type { Endpoint } from "../../framework/types.ts";

/**
 * Predicted TTFT (ms) of this request on an endpoint: its uncached prompt tokens queued behind the
 * uncached tokens already waiting for prefill there. Memoised per cycle so the affinity filter, the
 * SLO filter and the scorer agree.
 */
export function predictedTtftMs(cycle: CycleState, model: TtftModel, e: Endpoint): number {
  return cycle.memo(`ttft:${e.pod}`, () =>
    model.predictMs(cycle.request.baseModel, cycle.uncachedTokens(e.pod), e.inflight.prefillTokens),
  );
}
