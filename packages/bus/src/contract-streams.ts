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
 * The INFERD_DECISIONS stream of ScaleDecisions (autoscaler -> deployer, any tool), defined once
 * here for its producer and its consumers. A day of decisions; the last few of each
 * `<model>.<pool>` subject are kept so a restarted deployer can read the latest one per pool.
 */
export function decisionsStreamConfig(
  prefix?: string,
): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: STREAMS.decisions,
    subjects: [subjects(prefix).decisionsAll()],
    max_age: 24 * 3_600 * 1_000_000_000,
    max_msgs_per_subject: 100,
  };
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
