import { clampReplicas, type PoolSpec } from "./pools.ts";

export interface DecisionInput {
  readonly model: string;
  readonly pool: string;
  readonly desiredReplicas: number;
}

export type Actuation =
  | { kind: "scale"; pool: string; from: number | undefined; to: number; clamped: boolean }
  | { kind: "unchanged"; pool: string; replicas: number }
  | { kind: "ignored"; reason: string };

/**
 * What a ScaleDecision means for this deployer's pools: the pool it names (or the model's only
 * pool, when the autoscaler names it differently), the count clamped to the pool's min..max.
 */
export function actuate(
  decision: DecisionInput,
  pools: readonly Pick<PoolSpec, "name" | "model" | "minReplicas" | "maxReplicas">[],
  current: (pool: string) => number | undefined,
): Actuation {
  const byName = pools.find((p) => p.name === decision.pool && p.model === decision.model);
  const ofModel = pools.filter((p) => p.model === decision.model);
  const pool = byName ?? (ofModel.length === 1 ? ofModel[0] : undefined);
  if (!pool) {
    return {
      kind: "ignored",
      reason:
        ofModel.length > 1
          ? `model "${decision.model}" has ${ofModel.length} pools and none is named "${decision.pool}"`
          : `no pool serves model "${decision.model}"`,
    };
  }
  const to = clampReplicas(decision.desiredReplicas, pool);
  const from = current(pool.name);
  if (from === to) return { kind: "unchanged", pool: pool.name, replicas: to };
  return { kind: "scale", pool: pool.name, from, to, clamped: to !== decision.desiredReplicas };
}
