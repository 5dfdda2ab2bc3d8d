import { createHash, randomUUID } from "node:crypto";
import { inSpan } from "@inferd/bus";
import type { Logger } from "@inferd/service-kit";
import { propagation, ROOT_CONTEXT, type Span, SpanKind } from "@opentelemetry/api";
import type { FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { ApiKeys } from "../../domain/api-keys.ts";
import type { ClientLimit } from "../../domain/client-limit.ts";
import { errors, GatewayError } from "../../domain/errors.ts";
import type { Inventory } from "../../domain/inventory.ts";
import type { ModelPolicies } from "../../domain/model-policy.ts";
import {
  type ApiKind,
  estimatePromptTokens,
  isStream,
  maxTokensOf,
  type OpenAiBody,
  promptForPick,
} from "../../domain/openai-body.ts";
import { bearerToken, readRequestMeta } from "../../domain/request-meta.ts";
import { type RequestContext, type Route, responseIdentity } from "../../proxy/context.ts";
import { Forwarder } from "../../proxy/forwarder.ts";

export interface InferenceOptions {
  inventory: Inventory;
  policies: ModelPolicies;
  apiKeys: ApiKeys;
  clientLimit: ClientLimit;
  objectives: ReadonlyMap<string, number>;
  logger: Logger;
}

/**
 * One OpenAI inference request from start to end: read headers, resolve the model, check the
 * API key, admit, route (scorer + flow control), forward and record. Errors before the first
 * byte are thrown as GatewayError and answered by the app's error handler.
 */
export class Inference {
  readonly #opts: InferenceOptions;
  readonly #forwarder: Forwarder;
  readonly #fastify: import("fastify").FastifyInstance;

  constructor(fastify: import("fastify").FastifyInstance, opts: InferenceOptions) {
    this.#fastify = fastify;
    this.#opts = opts;
    this.#forwarder = new Forwarder({
      pool: fastify.upstreamPool,
      recorder: fastify.requestRecorder,
      metrics: fastify.gatewayMetrics,
      flow: fastify.flowControl,
      logger: opts.logger,
    });
  }

  /**
   * Handles the request in a SERVER span, child of the client's `traceparent` when it sent one; the
   * pick (NATS) and the upstream request (HTTP) carry the span's context on.
   */
  handle(kind: ApiKind, path: string, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const attributes = { "http.request.method": "POST", "url.path": path };
    return inSpan(`POST ${path}`, SpanKind.SERVER, parent, attributes, async (span) => {
      try {
        await this.#admit(kind, path, request, reply, span);
      } finally {
        span.setAttribute("http.response.status_code", reply.raw.statusCode);
      }
    });
  }

  async #admit(
    kind: ApiKind,
    path: string,
    request: FastifyRequest,
    reply: FastifyReply,
    span: Span,
  ): Promise<void> {
    const startedAt = performance.now();
    const body = request.body as OpenAiBody;
    const meta = readRequestMeta(request.headers, this.#opts.objectives, randomUUID);
    reply.headers(responseIdentity({ meta }));
    span.setAttributes({ "inferd.request_id": meta.requestId, "gen_ai.request.model": String(body.model) });
    const target = this.#opts.inventory.resolve(body.model);
    if (target === undefined) throw errors.modelNotFound(body.model);
    const token = bearerToken(request.headers);
    if (!this.#opts.apiKeys.allows(target.model, target.baseModel, token)) {
      throw errors.unauthorized(body.model);
    }
    // The client is its key (hashed: no secret kept in the map) or, without one, its address.
    const client =
      token !== "" ? `k:${createHash("sha256").update(token).digest("base64")}` : `a:${request.ip}`;
    if (!this.#opts.clientLimit.enter(client)) throw errors.tooManyConcurrent();
    try {
      await this.#serve(kind, path, request, reply, startedAt, body, meta, target);
    } finally {
      this.#opts.clientLimit.leave(client);
    }
  }

  async #serve(
    kind: ApiKind,
    path: string,
    request: FastifyRequest,
    reply: FastifyReply,
    startedAt: number,
    body: OpenAiBody,
    meta: ReturnType<typeof readRequestMeta>,
    target: NonNullable<ReturnType<Inventory["resolve"]>>,
  ): Promise<void> {
    const policy = this.#opts.policies.get(target.model, target.baseModel);
    const abort = new AbortController();
    const raw = reply.raw;
    raw.on("close", () => {
      if (!raw.writableFinished) abort.abort();
    });
    const ctx: RequestContext = {
      kind,
      path,
      body,
      rawBody: request.rawBody,
      promptForPick: promptForPick(kind, body),
      meta,
      clientHeaders: request.headers,
      target,
      policy,
      stream: isStream(body),
      maxTokens: maxTokensOf(body),
      startedAt,
      queuedMs: 0,
      prefillMs: 0,
      signal: abort.signal,
      endpoint: "",
      expectedCachedTokens: 0,
      prefillEndpoint: "",
      usage: undefined,
      promptTokensEstimate: 0,
      firstTokenAt: undefined,
    };
    ctx.promptTokensEstimate = estimatePromptTokens(ctx.promptForPick);
    const router = this.#fastify.requestRouter;
    const recorder = this.#fastify.requestRecorder;
    recorder.admitted(ctx);
    let route: Route;
    try {
      route = await router.route(ctx);
    } catch (err) {
      const e = err instanceof GatewayError ? err : errors.unavailable("internal", (err as Error).message);
      recorder.finished(ctx, {
        httpStatus: e.status,
        errorCode: e.droppedReason ?? e.code,
        errorMessage: e.message,
        itl: undefined,
        firstByteAt: undefined,
      });
      if (abort.signal.aborted) return this.#gone(reply);
      throw e;
    }
    await this.#forwarder.forward(ctx, route, reply, (exclude) => router.alternatives(ctx, exclude));
    if (abort.signal.aborted && !reply.sent) this.#gone(reply);
  }

  /** The client left: nothing to answer. */
  #gone(reply: FastifyReply): void {
    reply.hijack();
    reply.raw.destroy();
  }
}

declare module "fastify" {
  interface FastifyInstance {
    inference: Inference;
  }
}

export default fp<InferenceOptions>(
  (fastify, opts, done) => {
    fastify.decorate("inference", new Inference(fastify, opts));
    done();
  },
  {
    name: "inference",
    dependencies: ["upstream-pool", "request-recorder", "gateway-metrics", "flow-control", "request-router"],
  },
);
