import { defineEndpoint, type NatsConnection, ServiceError, schemaEndpoint, serveService } from "@inferd/bus";
import { KvLookupRequestSchema, KvLookupResponseSchema, type Subjects } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { KvIndexMetrics } from "../metrics.ts";
import { LookupError, type PrefixLookup } from "./lookup.ts";

/** Name in the NATS micro-services API ($SRV.PING/INFO/STATS, `nats micro ls`). */
// "kv-index" (not inferd-kv-index) because tools and tests already find it under that name.
export const SERVICE_NAME = "kv-index";

/**
 * Registers kv-index with the NATS micro-services API, whatever parts run in this process (an
 * ingest- or indexer-only deployment is listed too; `metadata.parts` says which), and serves
 * `inferd.v1.kv.lookup` (queue group: replicas share the load, protobuf or JSON) when `lookup` is set.
 */
export async function serveLookup(
  nc: NatsConnection,
  lookup: PrefixLookup | undefined,
  deps: { logger: Logger; metrics: KvIndexMetrics; subjects: Subjects; parts: readonly string[] },
) {
  return serveService(nc, {
    name: SERVICE_NAME,
    version: "0.1.0",
    description: "Which pods hold how much of a prompt in their KV cache",
    logger: deps.logger,
    metadata: { prefix: deps.subjects.prefix, parts: deps.parts.join(",") },
    endpoints: [
      schemaEndpoint(deps.subjects.prefix),
      ...(lookup === undefined ? [] : [lookupEndpoint(lookup, deps)]),
    ],
  });
}

function lookupEndpoint(lookup: PrefixLookup, deps: { metrics: KvIndexMetrics; subjects: Subjects }) {
  return defineEndpoint({
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
        if (err instanceof LookupError) {
          deps.metrics.lookups.inc({ via: "nats", result: err.code });
          throw new ServiceError(err.status, err.code, err.message);
        }
        deps.metrics.lookups.inc({ via: "nats", result: "error" });
        // The index could not answer (store unreachable or slow): the caller may retry
        // elsewhere or score without prefix information.
        throw new ServiceError(503, "index_unavailable", (err as Error).message);
      }
    },
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
