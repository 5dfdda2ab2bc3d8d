import { type NatsConnection, parseEndpointKey, watchEndpoints } from "@inferd/bus";
import { type Endpoint, EndpointRole } from "@inferd/protocol";
import type { Inventory, InventoryEndpoint, Role } from "../domain/inventory.ts";

function roleOf(role: EndpointRole): Role {
  if (role === EndpointRole.PREFILL) return "prefill";
  if (role === EndpointRole.DECODE) return "decode";
  return "both";
}

export function fromProto(ep: Endpoint): InventoryEndpoint {
  return {
    model: ep.model,
    pod: ep.pod,
    address: ep.address,
    role: roleOf(ep.role),
    loraAdapters: [...ep.loraAdapters],
    ready: ep.ready,
    pool: ep.pool,
  };
}

/**
 * Keeps `inventory` equal to the `<PREFIX>_ENDPOINTS` bucket; `onChange` runs after every change
 * (flow control wakes held requests when a pool gets its first ready endpoint).
 */
export async function followEndpointBucket(
  nc: NatsConnection,
  inventory: Inventory,
  onChange: () => void,
  onError: (err: Error) => void,
  prefix?: string,
  /** Replicas of the bucket when this watcher creates it (streamReplicas). */
  replicas?: number,
): Promise<{ initialized: Promise<void>; stop(): void }> {
  const watch = await watchEndpoints(nc, {
    prefix,
    replicas,
    onChange: (key, ep) => {
      if (ep !== undefined) inventory.upsert(fromProto(ep));
      else {
        const { model, pod } = parseEndpointKey(key);
        inventory.remove(model, pod);
      }
      onChange();
    },
    onError,
  });
  return { initialized: watch.initialized, stop: () => watch.stop() };
}
