import type { CycleState } from "../../framework/cycle.ts";
import type { TtftModel } from "../../framework/handle.ts";
import type { Endpoint } from "../../framework/types.ts";
import { featuresOf, profileOf } from "../../state/latency-trainer.ts";

/**
 * Predicted TTFT (ms) of this request on an endpoint: its uncached prompt tokens on that server as it
 * is now (prefill queued ahead, requests and tokens in flight, KV use, waiting), the same features
 * the model learns from. Memoised per cycle so the affinity filter, the SLO filter and the scorer agree.
 */
export function predictedTtftMs(cycle: CycleState, model: TtftModel, e: Endpoint): number {
  // One map per cycle keyed by pod (not a "ttft:<pod>" key per endpoint in the cycle's own map).
  const memo = cycle.memo(TTFT_MEMO, () => new Map<string, number>());
  let ms = memo.get(e.pod);
  if (ms === undefined) {
    ms = model.predictTtftMs(
      cycle.request.baseModel,
      profileOf(e),
      featuresOf(e, cycle.promptTokens, cycle.uncachedTokens(e.pod)),
    );
    memo.set(e.pod, ms);
  }
  return ms;
}

const TTFT_MEMO = "predicted-ttft-ms";
