import { deleteEndpoint, type KV, type NatsConnection, openKv, putEndpoint } from "@inferd/bus";
import { create, EndpointRole, EndpointSchema, subjects, timestampNow } from "@inferd/protocol";
import type { SimServerPlan } from "./stack-plan.ts";

/**
 * `inferd up` is the local deployer: it writes each simulated server into the INFERD_ENDPOINTS
 * inventory (ready, role both, KV events endpoint) and removes them when the stack stops.
 */
export async function registerSims(
  nc: NatsConnection,
  model: string,
  sims: readonly SimServerPlan[],
  prefix?: string,
): Promise<() => Promise<void>> {
  const kv: KV = await openKv(nc, subjects(prefix).buckets.endpoints, { history: 1 });
  for (const sim of sims) {
    await putEndpoint(
      kv,
      create(EndpointSchema, {
        model,
        pod: sim.pod,
        address: sim.address,
        role: EndpointRole.BOTH,
        ready: true,
        pool: "default",
        kvEventsEndpoint: sim.kvEventsEndpoint,
        kvReplayEndpoint: sim.kvReplayEndpoint,
        blockSize: 16,
        labels: { "inferd.io/managed-by": "inferd-up" },
        updatedAt: timestampNow(),
      }),
    );
  }
  return async () => {
    for (const sim of sims) await deleteEndpoint(kv, model, sim.pod).catch(() => undefined);
  };
}
