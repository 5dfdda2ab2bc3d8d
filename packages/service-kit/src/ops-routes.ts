import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";

export interface ReadinessCheck {
  /** Name of a link or component, e.g. "nats" or "redis". */
  name: string;
  check(): boolean | Promise<boolean>;
}

export interface OpsRoutesOptions {
  registry: Registry;
  readiness?: readonly ReadinessCheck[];
}

/** Evaluates the checks; a throwing check counts as not ready. */
export async function evaluateReadiness(
  checks: readonly ReadinessCheck[],
): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
  const results: Record<string, boolean> = {};
  for (const c of checks) {
    try {
      results[c.name] = Boolean(await c.check());
    } catch {
      results[c.name] = false;
    }
  }
  return { ready: Object.values(results).every(Boolean), checks: results };
}

/** Adds /metrics, /healthz (process alive) and /readyz (every link up) to a fastify app. */
export function registerOpsRoutes(app: FastifyInstance, options: OpsRoutesOptions): void {
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", options.registry.contentType);
    return options.registry.metrics();
  });
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const result = await evaluateReadiness(options.readiness ?? []);
    reply.code(result.ready ? 200 : 503);
    return { status: result.ready ? "ready" : "not ready", checks: result.checks };
  });
}
