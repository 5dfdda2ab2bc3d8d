import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Scorer } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";

export const ACTIVE_REQUEST_SCORER = "active-request-scorer";

/**
 * In-flight requests tracked by the scorer replicas (not scraped): idle endpoints (at most
 * `idleThreshold` requests) score 1, the busiest 0, linear in between.
 */
export class ActiveRequestScorer implements Scorer {
  readonly type = ACTIVE_REQUEST_SCORER;
  readonly name: string;
  private readonly idleThreshold: number;

  constructor(idleThreshold: number, name: string = ACTIVE_REQUEST_SCORER) {
    this.idleThreshold = idleThreshold;
    this.name = name;
  }

  score(_cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number> {
    let max = 0;
    for (const e of endpoints) max = Math.max(max, e.inflight.requests);
    const out = new Map<string, number>();
    for (const e of endpoints) {
      const r = e.inflight.requests;
      out.set(
        e.pod,
        r <= this.idleThreshold || max <= this.idleThreshold ? 1 : (max - r) / (max - this.idleThreshold),
      );
    }
    return out;
  }
}

export function activeRequestScorerFactory(
  name: string,
  params: Params,
  _handle: Handle,
): ActiveRequestScorer {
  const idle = params.int("idleThreshold", 0, { min: 0 });
  params.ignore("requestTimeout");
  return new ActiveRequestScorer(idle, name);
}
