import { type ReadinessCheck, registerOpsRoutes } from "@inferd/service-kit";
import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";

/** /metrics, /healthz and /readyz (ready when every link — NATS, inventory — is up). */
export default async function ops(
  fastify: FastifyInstance,
  opts: { registry: Registry; readiness: readonly ReadinessCheck[] },
): Promise<void> {
  registerOpsRoutes(fastify, { registry: opts.registry, readiness: opts.readiness });
}
