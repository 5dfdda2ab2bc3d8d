import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Scorer } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";

export const TOKEN_LOAD_SCORER = "token-load-scorer";

/** `1 - min(1, inflightTokens / queueThresholdTokens)` (llm-d's token-load-scorer). */
export class TokenLoadScorer implements Scorer {
  readonly type = TOKEN_LOAD_SCORER;
  readonly name: string;
  private readonly thresholdTokens: number;

  constructor(queueThresholdTokens: number, name: string = TOKEN_LOAD_SCORER) {
    this.thresholdTokens = queueThresholdTokens;
    this.name = name;
  }

  score(_cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of endpoints) out.set(e.pod, 1 - Math.min(1, e.inflight.tokens / this.thresholdTokens));
    return out;
  }
}

export function tokenLoadScorerFactory(name: string, params: Params, _handle: Handle): TokenLoadScorer {
  const threshold = params.number("queueThresholdTokens", 4_194_304, { min: 1 });
  params.ignore("nonTextTokenWeight");
  return new TokenLoadScorer(threshold, name);
}
