import {
  fromJson,
  type KvLookupRequest,
  KvLookupRequestSchema,
  KvLookupResponseSchema,
  toJson,
} from "@inferd/protocol";
import { type ReadinessCheck, type Registry, registerOpsRoutes } from "@inferd/service-kit";
import Fastify, { type FastifyInstance } from "fastify";
import type { KvIndexMetrics } from "../metrics.ts";
import { LookupError, LookupInputError, type PrefixLookup } from "./lookup.ts";
import { observe } from "./nats-service.ts";

/**
 * JSON body of POST /v1/lookup: the protobuf-JSON form of KvLookupRequest, plus short forms a
 * person would type: `tokens: [..]` (instead of `{ids: [..]}`), `messages: [{role, content}]`
 * (instead of `chat: {messages}`), `lora` for `lora_name`.
 */
export function parseLookupBody(body: unknown): KvLookupRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new LookupInputError("body must be a JSON object");
  }
  const raw = { ...(body as Record<string, unknown>) };
  if (Array.isArray(raw.tokens)) raw.tokens = { ids: raw.tokens };
  if (Array.isArray(raw.messages)) {
    raw.chat = {
      messages: raw.messages,
      ...(raw.add_generation_prompt !== undefined ? { addGenerationPrompt: raw.add_generation_prompt } : {}),
    };
    delete raw.messages;
    delete raw.add_generation_prompt;
  }
  if (typeof raw.lora === "string") {
    raw.loraName = raw.lora;
    delete raw.lora;
  }
  try {
    return fromJson(KvLookupRequestSchema, raw as never, { ignoreUnknownFields: false });
  } catch (err) {
    throw new LookupInputError((err as Error).message);
  }
}

/** The HTTP side: POST /v1/lookup (when a lookup is given) and /metrics /healthz /readyz. */
export function buildHttpApp(deps: {
  lookup?: PrefixLookup;
  metrics: KvIndexMetrics;
  registry: Registry;
  readiness: ReadinessCheck[];
}): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 32 * 1024 * 1024 });
  registerOpsRoutes(app, { registry: deps.registry, readiness: deps.readiness });
  const lookup = deps.lookup;
  if (lookup) {
    app.post("/v1/lookup", async (req, reply) => {
      try {
        const { response, timings } = await lookup.lookup(parseLookupBody(req.body));
        observe(deps.metrics, "http", timings);
        return toJson(KvLookupResponseSchema, response, { alwaysEmitImplicit: true });
      } catch (err) {
        if (err instanceof LookupError) {
          deps.metrics.lookups.inc({ via: "http", result: err.code });
          reply.code(err.status);
          return { error: { code: err.code, message: err.message } };
        }
        deps.metrics.lookups.inc({ via: "http", result: "error" });
        reply.code(503);
        return { error: { code: "index_unavailable", message: (err as Error).message } };
      }
    });
  }
  return app;
}
