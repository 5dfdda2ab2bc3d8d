import { deleteEndpoint, type KV, putEndpoint } from "@inferd/bus";
import { decode, type Endpoint, EndpointSchema } from "@inferd/protocol";
import { endpointToReplica, replicaFingerprint, replicaToEndpoint, writtenBy } from "../domain/endpoint.ts";
import { inventoryKey, planInventory } from "../domain/inventory-plan.ts";
import type { Replica } from "../domain/replica.ts";

export interface InventoryWriter {
  /** Writes what changed since the last sync; syncs never overlap (a call during one runs after it). */
  sync(replicas: readonly Replica[]): Promise<void>;
  /** Deletes every record this writer made (the local driver's servers are gone with it). */
  clear(): Promise<void>;
  /**
   * Takes the records a previous life of this deployer wrote as its own (call before the first
   * sync): the next sync rewrites only those that differ and deletes those of servers gone since.
   */
  takeOver(records: readonly Endpoint[]): void;
}

/** The records in the bucket written by a deployer of this kind for these pools. */
export async function recordsWrittenBy(
  kv: KV,
  managedBy: string,
  pools: readonly string[],
): Promise<Endpoint[]> {
  const found: Endpoint[] = [];
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (entry?.operation !== "PUT") continue;
    try {
      const e = decode(EndpointSchema, entry.value);
      if (writtenBy(e, managedBy, pools)) found.push(e);
    } catch {
      // Not an Endpoint: someone else's, never ours.
    }
  }
  return found;
}

/** Keeps INFERD_ENDPOINTS equal to the driver's replicas, writing only what changed. */
export function inventoryWriter(
  kv: KV,
  opts: { prefix: string; managedBy: string; onError?: (err: Error) => void },
): InventoryWriter {
  const written = new Map<string, { model: string; pod: string; fingerprint: string }>();
  let latest: readonly Replica[] | undefined;
  let running: Promise<void> | undefined;

  const apply = async (replicas: readonly Replica[]) => {
    // A replica without an address yet (a Pod before it has an IP) is not routable or useful.
    const plan = planInventory(
      written,
      replicas.filter((r) => r.address !== ""),
    );
    for (const r of plan.puts) {
      await putEndpoint(kv, replicaToEndpoint(r, opts.managedBy), opts.prefix);
      written.set(inventoryKey(r.model, r.pod), {
        model: r.model,
        pod: r.pod,
        fingerprint: replicaFingerprint(r),
      });
    }
    for (const d of plan.deletes) {
      await deleteEndpoint(kv, d.model, d.pod, opts.prefix);
      written.delete(inventoryKey(d.model, d.pod));
    }
  };

  // Coalesces bursts: while a sync runs, only the newest pending list is kept.
  const sync = (replicas: readonly Replica[]): Promise<void> => {
    latest = replicas;
    running ??= (async () => {
      try {
        while (latest) {
          const next = latest;
          latest = undefined;
          try {
            await apply(next);
          } catch (err) {
            opts.onError?.(err as Error);
          }
        }
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  return {
    sync,
    takeOver(records) {
      for (const e of records)
        written.set(inventoryKey(e.model, e.pod), {
          model: e.model,
          pod: e.pod,
          fingerprint: replicaFingerprint(endpointToReplica(e)),
        });
    },
    async clear() {
      await running;
      await apply([]);
    },
  };
}
