import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

/**
 * The replica count a start-up applies to an existing stream: the configured one when higher,
 * the current one otherwise. Raise-only because several services create the same stream or bucket
 * (gateway, scorer and autoscaler the requests stream) and one left at the default 1 must not pull
 * an R3 stream back down at its next start; lowering is an operator's `nats stream edit --replicas`.
 */
export function replicasToApply(current: number | undefined, configured: number | undefined): number {
  return Math.max(current || 1, configured || 1);
}

/**
 * Raises an existing stream (or KV bucket's stream, `KV_<bucket>`) to `replicas` when it has fewer,
 * so an operator who grows NATS from 1 to 3 servers and sets `streamReplicas: 3` gets R3 at the next
 * rollout. JetStream copies the data onto the new peers itself. Resolves true when it raised them.
 */
export async function raiseStreamReplicas(
  nc: NatsConnection,
  stream: string,
  replicas: number | undefined,
): Promise<boolean> {
  const jsm = await jetstreamManager(nc);
  const { config, cluster } = await jsm.streams.info(stream);
  const want = replicasToApply(config.num_replicas, replicas);
  if (want === (config.num_replicas || 1)) return false;
  // A single server refuses to create an R3 stream, but nats-server 2.9 accepts raising one and
  // leaves it leaderless: refuse the same way. Only a clustered server names its cluster here.
  if (!cluster?.name)
    throw new Error(
      `stream ${stream}: replicas ${want} need a NATS cluster (replicas > 1 not supported in non-clustered mode)`,
    );
  await jsm.streams.update(stream, { ...config, num_replicas: want });
  // The stream has no leader while its new raft group forms; a request to it then (an update, a
  // consumer) times out, so the caller goes on only once a leader and the new peers are there.
  const deadline = Date.now() + LEADER_TIMEOUT_MS;
  for (;;) {
    const { cluster } = await jsm.streams.info(stream);
    if (cluster?.leader && (cluster.replicas?.length ?? 0) >= want - 1) return true;
    if (Date.now() > deadline)
      throw new Error(`stream ${stream}: no leader ${LEADER_TIMEOUT_MS} ms after raising it to R${want}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const LEADER_TIMEOUT_MS = 30_000;
