import { DEFAULT_PREFIX, resourceName, subjects } from "@inferd/protocol";
import { DiscardPolicy, jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { raiseStreamReplicas } from "./replicas.ts";

/** Retention of a stream: both bounds always apply (the oldest messages go first). */
export interface StreamLimits {
  maxAgeSeconds: number;
  maxBytes: number;
  /** Copies of the stream in a NATS cluster (the services' `streamReplicas`); default 1. */
  replicas?: number;
}

/** Request lifecycle events: one hour (scorers replay minutes at start), at most 1 GiB. */
export const REQUESTS_STREAM_LIMITS: StreamLimits = Object.freeze({
  maxAgeSeconds: 3_600,
  maxBytes: 1024 ** 3,
});

/** Scale decisions: a day of history for audits, at most 256 MiB. */
export const DECISIONS_STREAM_LIMITS: StreamLimits = Object.freeze({
  maxAgeSeconds: 86_400,
  maxBytes: 256 * 1024 ** 2,
});

/** The StreamConfig fields of `limits`; a stream without both bounds can fill the server's disk. */
export function limitsConfig(
  limits: StreamLimits,
): Pick<StreamConfig, "max_age" | "max_bytes" | "discard" | "num_replicas"> {
  const replicas = limits.replicas ?? 1;
  if (!(limits.maxAgeSeconds > 0) || !(limits.maxBytes > 0) || !Number.isInteger(replicas) || replicas < 1)
    throw new Error(`stream limits must be > 0, got ${JSON.stringify(limits)}`);
  return {
    max_age: Math.round(limits.maxAgeSeconds * 1e9),
    max_bytes: Math.round(limits.maxBytes),
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
  };
}

/**
 * The `<PREFIX>_REQUESTS` stream as every service that may create it defines it. Several services
 * create it when missing (gateway, scorer), so the definition lives here once.
 */
export function requestsStreamConfig(
  prefix?: string,
  limits: StreamLimits = REQUESTS_STREAM_LIMITS,
): Partial<StreamConfig> & { name: string; subjects: string[] } {
  const s = subjects(prefix);
  return { name: s.streams.requests, subjects: [s.requestsAll()], ...limitsConfig(limits) };
}

/** The `<PREFIX>_DECISIONS` stream (autoscaler scale decisions). */
export function decisionsStreamConfig(
  prefix?: string,
  limits: StreamLimits = DECISIONS_STREAM_LIMITS,
): Partial<StreamConfig> & { name: string; subjects: string[] } {
  const s = subjects(prefix);
  return { name: s.streams.decisions, subjects: [s.decisionsAll()], ...limitsConfig(limits) };
}

/**
 * The `<PREFIX>_AUTOSCALER_LEASE` KV bucket holding the autoscaler's leader lease (key `leader`,
 * value the holder's id, the bucket TTL is the lease lifetime). Internal coordination, not a
 * message of the event contract, so it is named here rather than in @inferd/protocol's buckets.
 */
export function autoscalerLeaseBucket(prefix: string = DEFAULT_PREFIX): string {
  return resourceName(prefix, "AUTOSCALER_LEASE");
}

/**
 * Creates a stream only when nobody has yet; an existing one keeps its owner's definition (unlike
 * ensureStream, which updates it), except that its replicas are raised to `config.num_replicas`
 * when it has fewer ("replicas-raised"). Safe when two services race to create it.
 */
export async function createStreamIfMissing(
  nc: NatsConnection,
  config: Partial<StreamConfig> & { name: string; subjects: string[] },
): Promise<"created" | "exists" | "replicas-raised"> {
  const jsm = await jetstreamManager(nc);
  const exists = async () =>
    jsm.streams.info(config.name).then(
      () => true,
      (err: Error) => {
        if (/not found/i.test(err.message)) return false;
        throw err;
      },
    );
  const existing = async (): Promise<"exists" | "replicas-raised"> =>
    (await raiseStreamReplicas(nc, config.name, config.num_replicas)) ? "replicas-raised" : "exists";
  if (await exists()) return existing();
  try {
    await jsm.streams.add(config);
    return "created";
  } catch (err) {
    if (await exists()) return existing();
    throw err;
  }
}
