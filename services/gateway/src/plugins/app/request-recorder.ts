import { make, RequestEventSchema, RequestPhase, timestampNow } from "@inferd/protocol";
import fp from "fastify-plugin";
import type { ItlSummary } from "../../domain/stream-observer.ts";
import type { EventSink } from "../../options.ts";
import type { RequestContext } from "../../proxy/context.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";

export interface Outcome {
  httpStatus: number;
  /** Empty on success. */
  errorCode: string;
  errorMessage: string;
  itl: ItlSummary | undefined;
  /** performance.now() of the first response byte, for non-streaming TTFT. */
  firstByteAt: number | undefined;
}

const ZERO_ITL: ItlSummary = { mean: 0, p90: 0, max: 0, count: 0 };

/**
 * Records a request's lifecycle: a RequestEvent per phase on `inferd.v1.requests.<model>`
 * (admitted, routed, first token, completed or failed) and the matching Prometheus series.
 */
export class RequestRecorder {
  readonly #metrics: GatewayMetrics;
  readonly #events: EventSink | undefined;
  readonly #gatewayId: string;

  constructor(metrics: GatewayMetrics, events: EventSink | undefined, gatewayId: string) {
    this.#metrics = metrics;
    this.#events = events;
    this.#gatewayId = gatewayId;
  }

  admitted(ctx: RequestContext): void {
    this.#metrics.eppRequests.inc(this.#eppLabels(ctx));
    this.#publish(ctx, RequestPhase.ADMITTED, {});
  }

  routed(ctx: RequestContext): void {
    const overhead = (performance.now() - ctx.startedAt - ctx.queuedMs - ctx.prefillMs) / 1000;
    this.#metrics.addedLatency.observe({ model: ctx.target.model }, overhead);
    this.#metrics.eppProcessing.observe(overhead);
    this.#metrics.inFlight.inc({ model: ctx.target.model });
    this.#metrics.eppRunning.inc(this.#eppLabels(ctx));
    this.#publish(ctx, RequestPhase.ROUTED, {});
  }

  /** Fallback moved the request to another endpoint (ctx.endpoint). */
  rerouted(ctx: RequestContext): void {
    this.#publish(ctx, RequestPhase.ROUTED, {});
  }

  /** The request left the routed state (answer finished or failed after routing). */
  unrouted(ctx: RequestContext): void {
    this.#metrics.inFlight.dec({ model: ctx.target.model });
    this.#metrics.eppRunning.dec(this.#eppLabels(ctx));
  }

  firstToken(ctx: RequestContext): void {
    const ttft = (ctx.firstTokenAt! - ctx.startedAt) / 1000;
    this.#publish(ctx, RequestPhase.FIRST_TOKEN, { ttftSeconds: ttft });
  }

  /** One streamed gap (ITL) as it happens. */
  gap(ctx: RequestContext, seconds: number): void {
    this.#metrics.itl.observe({ model: ctx.target.model }, seconds);
    this.#metrics.eppItl.observe(this.#eppLabels(ctx), seconds);
  }

  finished(ctx: RequestContext, outcome: Outcome): void {
    const now = performance.now();
    const e2e = (now - ctx.startedAt) / 1000;
    const model = ctx.target.model;
    const labels = this.#eppLabels(ctx);
    const firstAt = ctx.stream ? ctx.firstTokenAt : outcome.firstByteAt;
    const ttft = firstAt !== undefined ? (firstAt - ctx.startedAt) / 1000 : 0;
    const failed = outcome.errorCode !== "";
    this.#metrics.requests.inc({ model, outcome: failed ? outcome.errorCode : "ok" });
    if (failed) this.#metrics.eppErrors.inc({ ...labels, error_code: outcome.errorCode });
    if (!failed) {
      this.#metrics.e2e.observe({ model }, e2e);
      this.#metrics.eppDuration.observe(labels, e2e);
      if (firstAt !== undefined) {
        const streaming = String(ctx.stream);
        this.#metrics.ttft.observe({ model, streaming }, ttft);
        this.#metrics.eppTtft.observe({ ...labels, streaming }, ttft);
      }
      if (ctx.usage !== undefined) {
        this.#metrics.eppInputTokens.observe(labels, ctx.usage.promptTokens);
        this.#metrics.eppOutputTokens.observe(labels, ctx.usage.completionTokens);
        this.#metrics.eppCachedTokens.observe(labels, ctx.usage.cachedTokens);
      }
    }
    const itl = outcome.itl ?? ZERO_ITL;
    this.#publish(ctx, failed ? RequestPhase.FAILED : RequestPhase.COMPLETED, {
      ttftSeconds: ttft,
      itlMeanSeconds: itl.mean,
      itlP90Seconds: itl.p90,
      itlMaxSeconds: itl.max,
      e2eSeconds: e2e,
      httpStatus: outcome.httpStatus,
      errorCode: outcome.errorCode,
      errorMessage: outcome.errorMessage,
      promptTokens: ctx.usage?.promptTokens ?? 0,
      completionTokens: ctx.usage?.completionTokens ?? 0,
      cachedTokens: ctx.usage?.cachedTokens ?? 0,
    });
  }

  #eppLabels(ctx: RequestContext) {
    return { model_name: ctx.target.model, target_model_name: ctx.target.baseModel };
  }

  #publish(
    ctx: RequestContext,
    phase: RequestPhase,
    extra: Partial<{
      ttftSeconds: number;
      itlMeanSeconds: number;
      itlP90Seconds: number;
      itlMaxSeconds: number;
      e2eSeconds: number;
      httpStatus: number;
      errorCode: string;
      errorMessage: string;
      promptTokens: number;
      completionTokens: number;
      cachedTokens: number;
    }>,
  ): void {
    if (this.#events === undefined) return;
    const event = make(RequestEventSchema, {
      requestId: ctx.meta.requestId,
      phase,
      model: ctx.target.model,
      baseModel: ctx.target.baseModel,
      time: timestampNow(),
      endpoint: ctx.endpoint,
      prefillEndpoint: ctx.prefillEndpoint,
      priority: ctx.meta.priority,
      fairnessId: ctx.meta.fairnessId,
      sessionId: ctx.meta.sessionId,
      stream: ctx.stream,
      maxTokens: ctx.maxTokens,
      queueSeconds: ctx.queuedMs / 1000,
      gatewayId: this.#gatewayId,
      ...extra,
    });
    this.#events.requestEvent(ctx.target.model, event);
  }
}

declare module "fastify" {
  interface FastifyInstance {
    requestRecorder: RequestRecorder;
  }
}

export default fp<{ events: EventSink | undefined; gatewayId: string }>(
  (fastify, opts, done) => {
    fastify.decorate(
      "requestRecorder",
      new RequestRecorder(fastify.gatewayMetrics, opts.events, opts.gatewayId),
    );
    done();
  },
  { name: "request-recorder", dependencies: ["gateway-metrics"] },
);
