import type { ReplicaState } from "./replica.ts";

/**
 * Which replicas to remove to get from the live ones down to `target`: those not serving first
 * (starting, then unhealthy), then the newest ready ones, so long-lived, cache-warm servers stay.
 * Replicas already draining do not count as live.
 */
export function pickForRemoval<T extends { state: ReplicaState; startedAt: number }>(
  replicas: readonly T[],
  target: number,
): T[] {
  const live = replicas.filter((r) => r.state !== "draining");
  const excess = live.length - target;
  if (excess <= 0) return [];
  const rank: Record<ReplicaState, number> = { starting: 0, unhealthy: 1, ready: 2, draining: 3 };
  return [...live]
    .sort((a, b) => rank[a.state] - rank[b.state] || b.startedAt - a.startedAt)
    .slice(0, excess);
}
