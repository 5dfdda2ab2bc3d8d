import { encodeMessage } from "@inferd/bus";
import { type Demand, DemandSchema, make, type RequestEvent, RequestEventSchema } from "@inferd/protocol";
import { createLogger } from "@inferd/service-kit";
import type { FastifyInstance } from "fastify";
import { Registry } from "prom-client";
import { onTestFinished } from "vitest";
import { buildApp } from "../src/app.ts";
import { Inventory, type InventoryEndpoint } from "../src/domain/inventory.ts";
import { ModelPolicies } from "../src/domain/model-policy.ts";
import { DEFAULT_UPSTREAM, type EventSink, type GatewayOptions, type PickFn } from "../src/options.ts";
// The app's decorators (app.flowControl, ...) are declared by its plugins.
import type {} from "../src/plugins/app/flow-control.ts";
import type {} from "../src/plugins/app/upstream-pool.ts";
import type { FakeUpstream } from "./fake-upstream.ts";

export const MODEL = "Qwen/Qwen3-32B";

/**
 * Records what the gateway publishes. Each event is also encoded with the real protobuf codec,
 * as the NATS sink does, so a test fails when a request let an unencodable value through.
 */
export class RecordingSink implements EventSink {
  readonly requests: RequestEvent[] = [];
  readonly demands: { model: string; held: number; oldest: number }[] = [];
  requestEvent(_model: string, given: RequestEvent | (() => RequestEvent)): void {
    const event = typeof given === "function" ? given() : given;
    encodeMessage(RequestEventSchema, event);
    this.requests.push(event);
  }
  demand(model: string, held: number, oldest: number): void {
    encodeMessage(DemandSchema, make(DemandSchema, { model, heldRequests: held, oldestWaitSeconds: oldest }));
    this.demands.push({ model, held, oldest });
  }
  /** Events of one request, by the gateway's id or the client's x-request-id. */
  of(id: string): RequestEvent[] {
    return this.requests.filter((e) => e.requestId === id || e.clientRequestId === id);
  }
  /** Phases published for one request, in order. */
  phases(id: string): number[] {
    return this.of(id).map((e) => e.phase);
  }
  last(id: string): RequestEvent | undefined {
    return this.of(id).at(-1);
  }
}
export type { Demand };

export function endpointOf(
  fake: Pick<FakeUpstream, "pod" | "address">,
  extra: Partial<InventoryEndpoint> = {},
): InventoryEndpoint {
  return {
    model: MODEL,
    pod: fake.pod,
    address: fake.address,
    role: "both",
    loraAdapters: [],
    ready: true,
    pool: "p",
    ...extra,
  };
}

export interface BuildOptions {
  endpoints?: InventoryEndpoint[];
  pick?: PickFn;
  models?: Record<string, unknown>;
  modelDefaults?: Record<string, unknown>;
  objectives?: Record<string, number>;
  bodyLimitBytes?: number;
  listener?: GatewayOptions["listener"];
  tls?: GatewayOptions["tls"];
  maxConcurrentPerClient?: number;
  /** Where events go (default: a RecordingSink, which `events` of the harness then is not). */
  eventSink?: EventSink;
  pickDeadlineMs?: number;
  queueRetryIntervalMs?: number;
  /** Also listen on 127.0.0.1 (for streaming and openai-client tests). */
  listen?: boolean;
}

export interface Harness {
  app: FastifyInstance;
  inventory: Inventory;
  registry: Registry;
  events: RecordingSink;
  /** http://127.0.0.1:<port> when listening. */
  url: string;
}

/** Builds the gateway app as main.ts does, with fakes for NATS; closed when the test ends. */
export async function build(opts: BuildOptions = {}): Promise<Harness> {
  const policies = ModelPolicies.parse(opts.modelDefaults ?? {}, opts.models ?? {});
  const inventory = new Inventory(policies.models());
  inventory.replaceAll(opts.endpoints ?? []);
  const registry = new Registry();
  const events = new RecordingSink();
  const options: GatewayOptions = {
    logger: createLogger({ service: "gateway-test", level: process.env.INFERD_LOG_LEVEL ?? "silent" }),
    gatewayId: "gw-test",
    inventory,
    policies,
    objectives: new Map(Object.entries(opts.objectives ?? { critical: 100, standard: 0, batch: -10 })),
    pick: opts.pick,
    pickDeadlineMs: opts.pickDeadlineMs ?? 100,
    events: opts.eventSink ?? events,
    registry,
    readiness: [],
    bodyLimitBytes: opts.bodyLimitBytes ?? 1024 * 1024,
    listener: opts.listener,
    tls: opts.tls,
    maxConcurrentPerClient: opts.maxConcurrentPerClient,
    upstream: { ...DEFAULT_UPSTREAM, connectTimeoutMs: 1000 },
    queueRetryIntervalMs: opts.queueRetryIntervalMs ?? 50,
    demandIntervalMs: 50,
  };
  const app = await buildApp(options);
  onTestFinished(() => app.close());
  let url = "";
  if (opts.listen) {
    await app.listen({ host: "127.0.0.1", port: 0 });
    url = `${opts.tls ? "https" : "http"}://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  }
  await app.ready();
  return { app, inventory, registry, events, url };
}

export function chatBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: MODEL, messages: [{ role: "user", content: "hello there" }], max_tokens: 3, ...extra };
}
