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
    labels: { ...r.labels, [MANAGED_BY]: managedBy, [POOL_LABEL]: r.pool },
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

const MANAGED_BY = "inferd.io/managed-by";
const POOL_LABEL = "inferd.io/pool";

/**
 * The replica an inventory record was written from (the inverse of replicaToEndpoint), so a
 * restarted deployer knows what a previous life of it wrote and rewrites only what differs.
 */
export function endpointToReplica(e: Endpoint): Replica {
  const labels = Object.fromEntries(
    Object.entries(e.labels).filter(([k]) => k !== MANAGED_BY && k !== POOL_LABEL),
  );
  const role = (Object.keys(ROLES) as ReplicaRole[]).find((r) => ROLES[r] === e.role) ?? "both";
  const state = (Object.keys(STATES) as ReplicaState[]).find((s) => STATES[s] === e.state) ?? "unhealthy";
  return {
    pool: e.pool,
    model: e.model,
    pod: e.pod,
    address: e.address,
    state,
    role,
    loraAdapters: [...e.loraAdapters],
    kvEventsEndpoint: e.kvEventsEndpoint,
    kvReplayEndpoint: e.kvReplayEndpoint,
    blockSize: e.blockSize,
    labels,
  };
}

/** Whether a record was written by a deployer of this kind for one of these pools. */
export function writtenBy(e: Endpoint, managedBy: string, pools: readonly string[]): boolean {
  return e.labels[MANAGED_BY] === managedBy && pools.includes(e.pool);
}
