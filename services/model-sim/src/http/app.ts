import Fastify, { type FastifyInstance } from "fastify";
import type { SimContext } from "../sim-context.ts";
import { HttpError } from "./errors.ts";
import { assertServing, handleGenerate } from "./generate.ts";
import { queryNames, renderFiltered } from "./metrics-filter.ts";
import { registerPeerInfo } from "./peer-info.ts";
import { queryBool } from "./query-bool.ts";
import { registerTokenizeRoutes } from "./tokenize.ts";

/** The vLLM OpenAI-compatible HTTP surface of one simulated server. */
export function buildApp(ctx: SimContext): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024, keepAliveTimeout: 75_000 });

  app.addHook("onRequest", async (_req, reply) => {
    reply.header("x-inference-pod", ctx.podName);
    reply.header("x-inference-port", String(ctx.port));
  });

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof HttpError) return reply.code(err.status).send(err.body());
    const e = err as { statusCode?: number; message: string };
    if (e.statusCode && e.statusCode < 500) {
      // fastify's own client errors (malformed JSON, body too large) in vLLM's shape.
      return reply.code(e.statusCode).send(new HttpError(e.statusCode, e.message).body());
    }
    ctx.logger.error({ err }, "request failed");
    return reply.code(500).send(new HttpError(500, e.message).body());
  });

  app.post("/v1/completions", (req, reply) => handleGenerate(ctx, "completion", req, reply));
  app.post("/v1/chat/completions", (req, reply) => handleGenerate(ctx, "chat", req, reply));

  app.get("/health", async (_req, reply) => {
    if (!ctx.state.ready || ctx.state.crashed) return reply.code(503).send();
    return reply.code(200).send();
  });

  // vLLM's GET /version: the simulated version, so routers can pick its hashing and event rules.
  app.get("/version", async () => ({ version: ctx.options.vllmVersion }));

  app.get("/v1/models", async () => {
    const created = Math.floor(Date.now() / 1000);
    const base = ctx.options.servedModelNames.map((name) => ({
      id: name,
      object: "model",
      created,
      owned_by: "vllm",
      root: ctx.options.model,
      parent: null,
      max_model_len: ctx.options.maxModelLen,
      permission: [],
    }));
    const loras = ctx.loras.list().map((l) => ({
      id: l.name,
      object: "model",
      created,
      owned_by: "vllm",
      root: l.path,
      parent: ctx.options.servedModelNames[0],
      max_model_len: null,
      permission: [],
    }));
    return { object: "list", data: [...base, ...loras] };
  });

  registerTokenizeRoutes(app, ctx);

  app.post("/v1/load_lora_adapter", async (req, reply) => {
    assertServing(ctx);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const l = ctx.loras.load(body.lora_name, body.lora_path);
    ctx.logger.info({ lora: l.name, id: l.id }, "LoRA adapter loaded");
    return reply.type("text/plain").send(`Success: LoRA adapter '${l.name}' added successfully.`);
  });

  app.post("/v1/unload_lora_adapter", async (req, reply) => {
    assertServing(ctx);
    const body = (req.body ?? {}) as Record<string, unknown>;
    ctx.loras.unload(body.lora_name);
    return reply
      .type("text/plain")
      .send(`Success: LoRA adapter '${String(body.lora_name)}' removed successfully.`);
  });

  // vLLM dev endpoint; emits AllBlocksCleared. Fails (as vLLM does) while requests hold blocks,
  // unless `reset_running_requests=true` preempts them first (current vLLM). `reset_external` is read
  // and validated as vLLM does; the simulator has no external (connector-managed) cache to reset.
  app.post("/reset_prefix_cache", async (req, reply) => {
    const resetRunning = queryBool(req.query, "reset_running_requests", false);
    queryBool(req.query, "reset_external", false);
    if (!ctx.engine.resetPrefixCache(resetRunning))
      throw new HttpError(400, "Failed to reset prefix cache: requests are running.");
    return reply.code(200).send();
  });

  registerPeerInfo(app, ctx);

  app.get("/metrics", async (req, reply) => {
    const names = queryNames(req.query);
    const text =
      names === null
        ? await ctx.metrics.registry.metrics()
        : await renderFiltered(ctx.metrics.registry, names);
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });

  return app;
}
