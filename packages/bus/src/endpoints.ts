import { decode, type Endpoint, EndpointSchema, encode, parseModelPod, subjects } from "@inferd/protocol";
import { type KV, Kvm, type KvOptions } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { raiseStreamReplicas } from "./replicas.ts";

export type { KV, KvEntry, KvOptions } from "@nats-io/kv";

/**
 * Opens a KV bucket, creating it when missing (idempotent at every start of every replica). An
 * existing bucket keeps its settings, but its replicas are raised to `options.replicas` when it has
 * fewer (an R1 bucket becomes R3 once the services are configured for a 3-node NATS).
 */
export async function openKv(
  nc: NatsConnection,
  bucket: string,
  options: Partial<KvOptions> = {},
): Promise<KV> {
  const kv = await new Kvm(nc).create(bucket, options);
  if ((options.replicas ?? 1) > 1) await raiseStreamReplicas(nc, `KV_${bucket}`, options.replicas);
  return kv;
}

export interface EndpointInventory {
  /** Ready or not, keyed by `<model>.<pod>` (escaped). */
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  /** Resolves once the bucket's current content has been read. */
  readonly initialized: Promise<void>;
  stop(): void;
}

export interface WatchEndpointsOptions {
  /** Bucket to follow; default: the endpoints bucket of `prefix`. */
  bucket?: string;
  /** Subject prefix whose `<PREFIX>_ENDPOINTS` bucket is followed (default `inferd`). */
  prefix?: string;
  /** Replicas of the bucket when this watcher creates it (or raises it to); default 1. */
  replicas?: number;
  /** Called after every change, with the key and the new value (undefined = deleted). */
  onChange?: (key: string, endpoint: Endpoint | undefined) => void;
  onError?: (err: Error) => void;
}

/** Follows the `<PREFIX>_ENDPOINTS` bucket: current content first, then every put and delete. */
export async function watchEndpoints(
  nc: NatsConnection,
  options: WatchEndpointsOptions = {},
): Promise<EndpointInventory> {
  const kv = await openKv(nc, options.bucket ?? subjects(options.prefix).buckets.endpoints, {
    history: 1,
    replicas: options.replicas ?? 1,
  });
  const endpoints = new Map<string, Endpoint>();
  const watcher = await kv.watch();
  let markInitialized: () => void = () => undefined;
  const initialized = new Promise<void>((resolve) => {
    markInitialized = resolve;
  });
  // Each initial entry carries `delta`, the number still pending; the last has delta 0. An
  // empty bucket delivers nothing, so it counts as initialised at once.
  if ((await kv.status()).values === 0) markInitialized();
  void (async () => {
    for await (const entry of watcher) {
      try {
        if (entry.operation === "PUT") {
          const ep = decode(EndpointSchema, entry.value);
          endpoints.set(entry.key, ep);
          options.onChange?.(entry.key, ep);
        } else {
          endpoints.delete(entry.key);
          options.onChange?.(entry.key, undefined);
        }
      } catch (err) {
        options.onError?.(err as Error);
      }
      if (entry.delta === 0) markInitialized();
    }
  })();
  return { endpoints, initialized, stop: () => watcher.stop() };
}

/** Writes (or replaces) one endpoint of the inventory. */
export async function putEndpoint(kv: KV, endpoint: Endpoint, prefix?: string): Promise<void> {
  await kv.put(subjects(prefix).endpointKey(endpoint.model, endpoint.pod), encode(EndpointSchema, endpoint));
}

export async function deleteEndpoint(kv: KV, model: string, pod: string, prefix?: string): Promise<void> {
  await kv.delete(subjects(prefix).endpointKey(model, pod));
}

export { parseModelPod as parseEndpointKey };
