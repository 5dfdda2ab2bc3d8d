import {
  createStreamIfMissing,
  DeliverPolicy,
  type EndpointInventory,
  jetstream,
  type NatsConnection,
  REQUESTS_STREAM_LIMITS,
  requestsStreamConfig,
  watchEndpoints,
} from "@inferd/bus";
import {
  DemandSchema,
  decode,
  type Endpoint,
  EndpointLoadSchema,
  EndpointRole,
  RequestEventSchema,
  RequestPhase,
  subjects,
  timestampMs,
} from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { Autoscaler, ReplicaInfo, RequestInfo } from "../policy/autoscaler.ts";
import type { Role } from "../policy/pool-policy.ts";

const ROLE: Record<number, Role> = {
  [EndpointRole.PREFILL]: "prefill",
  [EndpointRole.DECODE]: "decode",
};

export function replicaOf(ep: Endpoint): ReplicaInfo {
  return { model: ep.model, pod: ep.pod, pool: ep.pool, role: ROLE[ep.role] ?? "both", ready: ep.ready };
}

const PHASE: Record<number, RequestInfo["phase"]> = {
  [RequestPhase.ADMITTED]: "admitted",
  [RequestPhase.ROUTED]: "routed",
  [RequestPhase.COMPLETED]: "completed",
  [RequestPhase.FAILED]: "failed",
};

export interface BusInputs {
  readonly inventory: EndpointInventory;
  stop(): Promise<void>;
}

/**
 * Feeds the autoscaler from the bus only: the INFERD_ENDPOINTS inventory, request lifecycle events
 * from INFERD_REQUESTS (an ordered consumer replaying the last `replayMs`, so a new leader starts
 * with a full window), EndpointLoad and Demand (core subscriptions).
 */
export async function followBus(
  nc: NatsConnection,
  autoscaler: Autoscaler,
  /** `replicas`: of the endpoints bucket and the requests stream when this creates or raises them. */
  options: { prefix: string; replayMs: number; replicas?: number; logger: Logger },
): Promise<BusInputs> {
  const s = subjects(options.prefix);
  const log = options.logger;
  const inventory = await watchEndpoints(nc, {
    prefix: options.prefix,
    replicas: options.replicas,
    onChange: (key, ep) => autoscaler.replica(key, ep ? replicaOf(ep) : undefined),
    onError: (err) => log.warn({ err: err.message }, "malformed endpoint skipped"),
  });
  await inventory.initialized;

  const requests = requestsStreamConfig(options.prefix, {
    ...REQUESTS_STREAM_LIMITS,
    replicas: options.replicas,
  });
  if ((await createStreamIfMissing(nc, requests)) === "created")
    log.info({ stream: s.streams.requests }, "created request lifecycle stream");
  const consumer = await jetstream(nc).consumers.get(s.streams.requests, {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(Date.now() - options.replayMs).toISOString(),
  });
  const messages = await consumer.consume();
  const requestsDone = (async () => {
    for await (const m of messages) {
      try {
        const ev = decode(RequestEventSchema, m.data);
        autoscaler.request({
          phase: PHASE[ev.phase] ?? "other",
          model: ev.baseModel || ev.model,
          atMs: ev.time ? timestampMs(ev.time) : Date.now(),
          endpoint: ev.endpoint,
          prefillEndpoint: ev.prefillEndpoint,
          ttftSeconds: ev.ttftSeconds,
          itlP90Seconds: ev.itlP90Seconds,
          e2eSeconds: ev.e2eSeconds,
        });
      } catch (err) {
        log.warn({ err: (err as Error).message, subject: m.subject }, "malformed request event skipped");
      }
    }
  })();

  const loadSub = nc.subscribe(s.loadAll());
  void (async () => {
    for await (const msg of loadSub) {
      try {
        const l = decode(EndpointLoadSchema, msg.data);
        if (!l.reachable) continue;
        autoscaler.load(l.model, l.pod, {
          waiting: l.requestsWaiting,
          kvUsage: l.kvCacheUsage,
          atMs: Date.now(),
        });
      } catch (err) {
        log.warn({ err: (err as Error).message }, "malformed EndpointLoad skipped");
      }
    }
  })();
  const demandSub = nc.subscribe(s.demandAll());
  void (async () => {
    for await (const msg of demandSub) {
      try {
        const d = decode(DemandSchema, msg.data);
        autoscaler.demand(d.model, d.gatewayId, d.heldRequests, Date.now());
      } catch (err) {
        log.warn({ err: (err as Error).message }, "malformed Demand skipped");
      }
    }
  })();

  return {
    inventory,
    async stop() {
      loadSub.unsubscribe();
      demandSub.unsubscribe();
      inventory.stop();
      await messages.close();
      await requestsDone;
    },
  };
}
