import { replicaFingerprint } from "./endpoint.ts";
import type { Replica } from "./replica.ts";

export interface InventoryPlan {
  /** Replicas whose record is new or changed. */
  readonly puts: Replica[];
  /** `{model, pod}` of records whose replica is gone. */
  readonly deletes: { model: string; pod: string }[];
}

const key = (model: string, pod: string) => `${model}\u0000${pod}`;

/**
 * Compares what the inventory holds (this deployer's own records, by fingerprint) with the replicas
 * the driver observes now. Records written by others are never in `written`, so never deleted.
 */
export function planInventory(
  written: ReadonlyMap<string, { model: string; pod: string; fingerprint: string }>,
  observed: readonly Replica[],
): InventoryPlan {
  const puts: Replica[] = [];
  const seen = new Set<string>();
  for (const r of observed) {
    const k = key(r.model, r.pod);
    seen.add(k);
    if (written.get(k)?.fingerprint !== replicaFingerprint(r)) puts.push(r);
  }
  const deletes = [...written.entries()]
    .filter(([k]) => !seen.has(k))
    .map(([, v]) => ({ model: v.model, pod: v.pod }));
  return { puts, deletes };
}

export { key as inventoryKey };
