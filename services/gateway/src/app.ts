import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from "fastify";
import { clientErrorHandler } from "./client-error.ts";
import { ApiKeys } from "./domain/api-keys.ts";
import { ClientLimit } from "./domain/client-limit.ts";
import { errorBody, GatewayError } from "./domain/errors.ts";
import { HeaderError } from "./domain/request-meta.ts";
import { DEFAULT_LISTENER, type GatewayOptions } from "./options.ts";
import flowControl from "./plugins/app/flow-control.ts";
import gatewayMetrics from "./plugins/app/gateway-metrics.ts";
import inference from "./plugins/app/inference.ts";
import jsonBody from "./plugins/app/json-body.ts";
import pickClient from "./plugins/app/pick-client.ts";
import requestRecorder from "./plugins/app/request-recorder.ts";
import requestRouter from "./plugins/app/router.ts";
import upstreamPool from "./plugins/app/upstream-pool.ts";
import ops from "./plugins/external/ops.ts";
import chatCompletions from "./routes/v1/chat-completions.ts";
import completions from "./routes/v1/completions.ts";
import models from "./routes/v1/models.ts";

/**
 * Builds the gateway: external plugins (ops routes), then the app's shared plugins (metrics,
 * upstream pool, pick client, flow control, router, recorder, inference), then the /v1 routes.
 * Every dependency comes in through `options`, so tests build the same app with fakes.
 */
export async function buildApp(options: GatewayOptions): Promise<FastifyInstance> {
  const limits = options.listener ?? DEFAULT_LISTENER;
  // HTTPS when a certificate is configured; fastify's typings tie the instance type to the
  // server kind, the app itself does not care.
  const app = (Fastify as unknown as (o: object) => FastifyInstance)({
    ...(options.tls ? { https: options.tls } : {}),
    // Slow or oversized clients are cut off by node's HTTP parser; the expiry checks run at
    // least every second (node's default of 30 s would let a slow-loris linger far past the limit).
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)),
      ),
    },
    // Refused before fastify saw a request: counted and logged here (the app is built by then).
    clientErrorHandler: clientErrorHandler((status, reason, remote) => {
      app.gatewayMetrics?.refused.inc({ reason, status: String(status) });
      options.logger.warn({ audit: "refused", client: remote, status, reason }, "request refused");
    }),
    loggerInstance: options.logger as FastifyBaseLogger,
    // The gateway logs its own request lines (with reqId); fastify's per-request lines would
    // double the log volume on the hot path.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "reqId" }),
    bodyLimit: options.bodyLimitBytes,
    requestIdHeader: "x-request-id",
    return503OnClosing: true,
    ajv: {
      customOptions: {
        allowUnionTypes: true,
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: false,
        allErrors: false,
      },
    },
  });
  // One logger for every request: the gateway puts reqId on its own lines, and a pino child
  // per request is measurable on the hot path.
  app.setChildLoggerFactory((logger) => logger);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send(errorBody(`no route ${request.method} ${request.url}`, "invalid_request_error", "not_found"));
  });

  await app.register(ops, { registry: options.registry, readiness: options.readiness });
  await app.register(jsonBody);

  await app.register(gatewayMetrics, { registry: options.registry });
  await app.register(upstreamPool, { upstream: options.upstream });
  await app.register(pickClient, { pick: options.pick, pickDeadlineMs: options.pickDeadlineMs });
  await app.register(flowControl, {
    events: options.events,
    queueRetryIntervalMs: options.queueRetryIntervalMs,
    demandIntervalMs: options.demandIntervalMs,
  });
  await app.register(requestRouter, {
    inventory: options.inventory,
    localPrefixChunksPerPod: options.localPrefixChunksPerPod ?? 16_384,
  });
  await app.register(requestRecorder, { events: options.events, gatewayId: options.gatewayId });
  const apiKeys = options.apiKeys ?? new ApiKeys(options.policies);
  await app.register(inference, {
    inventory: options.inventory,
    policies: options.policies,
    apiKeys,
    clientLimit: new ClientLimit(options.maxConcurrentPerClient ?? 0),
    objectives: options.objectives,
    logger: options.logger,
  });

  await app.register(chatCompletions);
  await app.register(completions);
  await app.register(models, { inventory: options.inventory, apiKeys });
  return app;
}

/**
 * The audit trail of a refused request: one structured log line (request id, client address,
 * model, status, reason) and `inferd_gateway_refused_requests_total{reason,status}`.
 */
function audit(
  app: FastifyInstance,
  request: import("fastify").FastifyRequest,
  status: number,
  reason: string,
  message: string,
): void {
  app.gatewayMetrics?.refused.inc({ reason, status: String(status) });
  const body = request.body as { model?: unknown } | undefined;
  request.log.warn(
    {
      audit: "refused",
      reqId: request.id,
      client: request.ip,
      method: request.method,
      url: request.url,
      model: typeof body?.model === "string" ? body.model.slice(0, 200) : undefined,
      status,
      reason,
      detail: message.slice(0, 300),
    },
    "request refused",
  );
}

/** Every error the gateway answers itself, as OpenAI error JSON with the right status. */
function errorHandler(
  this: FastifyInstance,
  error: FastifyError,
  request: import("fastify").FastifyRequest,
  reply: import("fastify").FastifyReply,
) {
  const metrics = this.gatewayMetrics;
  const answer = (
    status: number,
    type: string,
    code: string,
    message: string,
    param: string | null = null,
  ) => {
    metrics?.requests.inc({ model: "", outcome: code });
    audit(this, request, status, code, message);
    return reply.code(status).send(errorBody(message, type, code, param));
  };
  if (error instanceof GatewayError) {
    if (error.droppedReason !== undefined)
      reply.header("x-llm-d-request-dropped-reason", error.droppedReason);
    if (error.status >= 500 || error.status === 429) {
      audit(this, request, error.status, error.auditReason, error.message);
      return reply.code(error.status).send(error.body());
    }
    metrics?.requests.inc({ model: "", outcome: error.code });
    audit(this, request, error.status, error.auditReason, error.message);
    return reply.code(error.status).send(error.body());
  }
  if (error instanceof HeaderError)
    return answer(400, "invalid_request_error", "invalid_header", error.message, error.header);
  if (error.validation) {
    const v = error.validation[0];
    let param = v?.instancePath ? v.instancePath.slice(1).replace(/\//g, ".") : "";
    const missing = (v?.params as { missingProperty?: string } | undefined)?.missingProperty;
    if (v?.keyword === "required" && missing) param = param ? `${param}.${missing}` : missing;
    const problem = v?.keyword === "required" ? "is required" : (v?.message ?? error.message);
    return answer(
      400,
      "invalid_request_error",
      "invalid_request",
      `${param || "body"} ${problem}`,
      param || null,
    );
  }
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return answer(
        413,
        "invalid_request_error",
        "request_too_large",
        "request body is larger than the gateway accepts",
      );
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return answer(400, "invalid_request_error", "invalid_json", `malformed JSON body: ${error.message}`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return answer(
        415,
        "invalid_request_error",
        "unsupported_media_type",
        "send the body as application/json",
      );
    default:
      break;
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return answer(400, "invalid_request_error", "invalid_json", `malformed JSON body: ${error.message}`);
  }
  if (error.statusCode !== undefined && error.statusCode < 500) {
    return answer(error.statusCode, "invalid_request_error", error.code ?? "bad_request", error.message);
  }
  request.log.error({ err: error, reqId: request.id }, "unhandled gateway error");
  return answer(500, "internal_error", "internal", "internal gateway error");
}
