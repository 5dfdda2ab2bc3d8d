import {
  create,
  type Endpoint,
  EndpointRole,
  EndpointSchema,
  EndpointState,
  timestampNow,
} from "@inferd/protocol";
import type { Replica, ReplicaRole, ReplicaState } from "./replica.ts";

const ROLES: Record<ReplicaRole, EndpointRole> = {
  both: EndpointRole.BOTH,
  prefill: EndpointRole.PREFILL,
  decode: EndpointRole.DECODE,
};

const STATES: Record<ReplicaState, EndpointState> = {
  starting: EndpointState.STARTING,
  ready: EndpointState.READY,
  draining: EndpointState.DRAINING,
  unhealthy: EndpointState.UNHEALTHY,
};

/** The inventory record of a replica: `ready` is true only in the ready state, so readers of `ready` alone stay right. */
export function replicaToEndpoint(r: Replica, managedBy: string): Endpoint {
  return create(EndpointSchema, {
    model: r.model,
    pod: r.pod,
    address: r.address,
    role: ROLES[r.role],
    loraAdapters: [...r.loraAdapters],
    ready: r.state === "ready",
    state: STATES[r.state],
    labels: { ...r.labels, "inferd.io/managed-by": managedBy, "inferd.io/pool": r.pool },
    pool: r.pool,
    kvEventsEndpoint: r.kvEventsEndpoint,
    kvReplayEndpoint: r.kvReplayEndpoint,
    blockSize: r.blockSize,
    updatedAt: timestampNow(),
  });
}

/** What of a replica the inventory shows; a change here is a write, anything else is not. */
export function replicaFingerprint(r: Replica): string {
  return JSON.stringify([
    r.pool,
    r.address,
    r.state,
    r.role,
    r.loraAdapters,
    r.kvEventsEndpoint,
    r.kvReplayEndpoint,
    r.blockSize,
    r.labels,
  ]);
}
