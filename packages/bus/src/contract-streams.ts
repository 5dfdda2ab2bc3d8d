import { STREAMS, subjects } from "@inferd/protocol";
import { jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

/**
 * The INFERD_REQUESTS stream as every service that may create it defines it: one hour of request
 * lifecycle events. Several services create it when missing (gateway, scorer), so the definition
 * lives here once.
 */
export function requestsStreamConfig(
  prefix?: string,
): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: STREAMS.requests,
    subjects: [subjects(prefix).requestsAll()],
    max_age: 3_600 * 1_000_000_000,
  };
}

/**
 * The INFERD_DECISIONS stream: every ScaleDecision the autoscaler made, one day of history, so the
 * deployer (and any tool) can read the latest decision per pool after a restart.
 */
export function decisionsStreamConfig(
  prefix?: string,
): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: STREAMS.decisions,
    subjects: [subjects(prefix).decisionsAll()],
    max_age: 24 * 3_600 * 1_000_000_000,
    // Only the latest decision of a pool matters to an actuator that starts late.
    max_msgs_per_subject: 100,
  };
}

/**
 * The JetStream KV bucket holding the autoscaler's leader lease (key `leader`, value the holder's
 * id, the bucket TTL is the lease lifetime). Internal coordination, not a message of the event
 * contract, so it lives here rather than in @inferd/protocol's BUCKETS.
 */
export const AUTOSCALER_LEASE_BUCKET = "INFERD_AUTOSCALER_LEASE";

export function autoscalerLeaseBucket(_prefix?: string): string {
  return AUTOSCALER_LEASE_BUCKET;
}

/**
 * Creates a stream only when nobody has yet; an existing one is left exactly as its owner
 * configured it (unlike ensureStream, which updates it). Safe when two services race to create it.
 */
export async function createStreamIfMissing(
  nc: NatsConnection,
  config: Partial<StreamConfig> & { name: string; subjects: string[] },
): Promise<"created" | "exists"> {
  const jsm = await jetstreamManager(nc);
  const exists = async () =>
    jsm.streams.info(config.name).then(
      () => true,
      (err: Error) => {
        if (/not found/i.test(err.message)) return false;
        throw err;
      },
    );
  if (await exists()) return "exists";
  try {
    await jsm.streams.add(config);
    return "created";
  } catch (err) {
    if (await exists()) return "exists";
    throw err;
  }
}
