import { defineEndpoint, type NatsConnection, ServiceError, schemaEndpoint, serveService } from "@inferd/bus";
import { KvLookupRequestSchema, KvLookupResponseSchema, type Subjects } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { KvIndexMetrics } from "../metrics.ts";
import { LookupInputError, type PrefixLookup } from "./lookup.ts";

/** Serves `inferd.v1.kv.lookup` (queue group: replicas share the load), protobuf or JSON. */
export async function serveLookup(
  nc: NatsConnection,
  lookup: PrefixLookup,
  deps: { logger: Logger; metrics: KvIndexMetrics; subjects: Subjects },
) {
  return serveService(nc, {
    name: "kv-index",
    version: "0.1.0",
    description: "Which pods hold how much of a prompt in their KV cache",
    logger: deps.logger,
    endpoints: [
      schemaEndpoint(deps.subjects.prefix),
      defineEndpoint({
        name: "lookup",
        subject: deps.subjects.kvLookup(),
        request: KvLookupRequestSchema,
        response: KvLookupResponseSchema,
        handler: async (req) => {
          try {
            const { response, timings } = await lookup.lookup(req);
            observe(deps.metrics, "nats", timings);
            return response;
          } catch (err) {
            if (err instanceof LookupInputError) {
              deps.metrics.lookups.inc({ via: "nats", result: "bad_request" });
              throw new ServiceError(400, "bad_request", err.message);
            }
            deps.metrics.lookups.inc({ via: "nats", result: "error" });
            // The index could not answer (store unreachable or slow): the caller may retry
            // elsewhere or score without prefix information.
            throw new ServiceError(503, "index_unavailable", (err as Error).message);
          }
        },
      }),
    ],
  });
}

export function observe(
  metrics: KvIndexMetrics,
  via: string,
  timings: { tokenizeSeconds: number; lookupSeconds: number; tokenizeKind: string },
) {
  metrics.lookups.inc({ via, result: "ok" });
  metrics.lookupDuration.observe({ via }, timings.lookupSeconds);
  if (timings.tokenizeKind !== "tokens")
    metrics.tokenizeDuration.observe({ kind: timings.tokenizeKind }, timings.tokenizeSeconds);
}
