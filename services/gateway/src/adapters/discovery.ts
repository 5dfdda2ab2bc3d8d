import { type NatsConnection, serveService } from "@inferd/bus";

/** Name in the NATS micro-services API ($SRV.PING/INFO/STATS, `nats micro ls`). */
export const SERVICE_NAME = "inferd-gateway";

/**
 * Registers the gateway with the NATS micro-services API. It answers no NATS requests (its API is
 * HTTP), but registering lists it beside the scorers and kv-index replicas of its installation
 * (metadata: subject prefix, gateway id, HTTP port).
 */
export function registerGateway(
  nc: NatsConnection,
  opts: { prefix: string; gatewayId: string; port: number; version: string },
) {
  return serveService(nc, {
    name: SERVICE_NAME,
    version: opts.version,
    description: "inferd OpenAI-compatible gateway (HTTP): admits, routes via the scorer, proxies",
    endpoints: [],
    metadata: { prefix: opts.prefix, gatewayId: opts.gatewayId, httpPort: String(opts.port) },
  });
}
