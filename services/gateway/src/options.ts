import type { PickRequest, PickResponse, RequestEvent } from "@inferd/protocol";
import type { Logger, ReadinessCheck } from "@inferd/service-kit";
import type { Registry } from "prom-client";
import type { ApiKeys } from "./domain/api-keys.ts";
import type { Inventory } from "./domain/inventory.ts";
import type { ModelPolicies } from "./domain/model-policy.ts";

/**
 * Asks the scorer where a request should go. Rejects when the scorer cannot be reached or does
 * not answer within `timeoutMs` (the gateway then applies the model's failureMode).
 */
export type PickFn = (request: PickRequest, timeoutMs: number) => Promise<PickResponse>;

/** Where lifecycle events and scale-from-zero demand go (NATS in production). */
export interface EventSink {
  /** `event` may be a function that builds it: called once, when the event is published. */
  requestEvent(model: string, event: RequestEvent | (() => RequestEvent)): void;
  demand(model: string, heldRequests: number, oldestWaitSeconds: number): void;
}

export interface UpstreamOptions {
  /**
   * Most connections per model server. Every in-flight request holds one (no pipelining), so
   * this must exceed the concurrent streams one server takes, or requests wait in the gateway.
   */
  connectionsPerEndpoint: number;
  connectTimeoutMs: number;
  /** Time allowed until the model server sends response headers. */
  headersTimeoutMs: number;
  /** Time allowed between two body chunks. */
  bodyTimeoutMs: number;
}

export interface GatewayOptions {
  logger: Logger;
  /** Identity of this replica, stamped on every RequestEvent. */
  gatewayId: string;
  inventory: Inventory;
  policies: ModelPolicies;
  /** API keys (policies + key file); default: the policies' keys only. */
  apiKeys?: ApiKeys;
  /** Objective name -> priority (x-llm-d-inference-objective). */
  objectives: ReadonlyMap<string, number>;
  /** The scorer; undefined = always pick locally (static endpoint list, no scorer). */
  pick: PickFn | undefined;
  /** Deadline for one pick call. */
  pickDeadlineMs: number;
  /** Chunk keys per pod in the local prefix view used by local picks (default 16384). */
  localPrefixChunksPerPod?: number;
  events: EventSink | undefined;
  registry: Registry;
  readiness: readonly ReadinessCheck[];
  /** Largest request body accepted, bytes. */
  bodyLimitBytes: number;
  /** Client-side limits of the HTTP listener (slow clients, huge headers). */
  listener?: ListenerLimits;
  /** Most requests one client (API key, else address) may have in flight; 0 = no limit. */
  maxConcurrentPerClient?: number;
  /** Serve HTTPS with this PEM certificate chain and key (default plain HTTP). */
  tls?: { cert: Buffer; key: Buffer };
  upstream: UpstreamOptions;
  /** How often waiting requests retry the pick when nothing else woke them. */
  queueRetryIntervalMs: number;
  /** How often Demand is published while requests are held for a pool at zero. */
  demandIntervalMs: number;
}

export interface ListenerLimits {
  /** Time a client has to send the request headers (slow-loris), ms. */
  headersTimeoutMs: number;
  /** Time a client has to send the whole request, headers and body, ms. */
  requestTimeoutMs: number;
  /** Largest header block accepted, bytes (431 above). */
  maxHeaderBytes: number;
}

export const DEFAULT_LISTENER: ListenerLimits = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  maxHeaderBytes: 16 * 1024,
});

export const DEFAULT_UPSTREAM: UpstreamOptions = Object.freeze({
  connectionsPerEndpoint: 4096,
  connectTimeoutMs: 2_000,
  headersTimeoutMs: 600_000,
  bodyTimeoutMs: 600_000,
});
