import type { PoolSpec } from "../domain/pools.ts";
import type { Replica } from "../domain/replica.ts";

export type PoolInfo = Pick<PoolSpec, "name" | "model" | "minReplicas" | "maxReplicas">;

/**
 * How the deployer runs model pools. One interface, two drivers (`local` processes, `kubernetes`
 * workloads), one contract suite (test/drivers/contract.ts) that both pass.
 *
 * - `scale` records the wish and returns once the driver has acted on it (processes spawned or
 *   draining; the `/scale` subresource written), not once replicas are ready.
 * - Scale-down drains: a removed replica is first reported `draining` (never `ready` again), then
 *   disappears from `replicas()` once it has stopped.
 * - `replicas()` is the observed truth, the same list the inventory shows; `onChange` fires after
 *   every change of it (discovery events). Listeners must not throw.
 */
export interface PoolDriver {
  readonly kind: "local" | "kubernetes";
  /** Begins managing and observing the pools; resolves once the first observation is complete. */
  start(): Promise<void>;
  /** The pools the driver knows (configured, or discovered from InferencePools). */
  pools(): PoolInfo[];
  scale(pool: string, replicas: number): Promise<void>;
  /** The last replica count asked of a pool (configured start count before any scale). */
  desired(pool: string): number | undefined;
  replicas(): Replica[];
  onChange(listener: () => void): () => void;
  /** Stops observing. The local driver also stops its servers (draining them); Kubernetes pools stay. */
  stop(): Promise<void>;
}

/** A small listener set shared by the drivers. */
export class ChangeEmitter {
  readonly #listeners = new Set<() => void>();
  on(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  emit(): void {
    for (const l of this.#listeners) l();
  }
}
