import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type ReadinessCheck, registerOpsRoutes } from "./ops-routes.ts";

export interface OpsServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  readiness?: readonly ReadinessCheck[];
  logger?: Logger;
}

export interface OpsServer {
  readonly app: FastifyInstance;
  /** http://host:port actually bound (port 0 picks a free one). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** An HTTP server with only /metrics, /healthz and /readyz, for services without an HTTP API. */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const app = Fastify({ logger: false });
  registerOpsRoutes(app, { registry: options.registry, readiness: options.readiness ?? [] });
  const host = options.host ?? "0.0.0.0";
  await app.listen({ port: options.port, host });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
  options.logger?.info({ url }, "ops server listening");
  return { app, url, port, close: () => app.close() };
}
