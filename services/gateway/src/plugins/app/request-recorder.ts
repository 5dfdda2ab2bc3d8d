import { make, RequestEventSchema, RequestPhase, timestampFromMs } from "@inferd/protocol";
import fp from "fastify-plugin";
import { histogramChild } from "../../adapters/histogram-child.ts";
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

/** Metric children bound to one (model, base model), so the hot path skips label hashing. */
function bind(m: GatewayMetrics, model: string, baseModel: string) {
  const epp = { model_name: model, target_model_name: baseModel };
  return {
    epp,
    ok: m.requests.labels({ model, outcome: "ok" }),
    ttft: m.ttft.labels({ model, streaming: "true" }),
    ttftNonStream: m.ttft.labels({ model, streaming: "false" }),
    eppTtft: m.eppTtft.labels({ ...epp, streaming: "true" }),
    eppTtftNonStream: m.eppTtft.labels({ ...epp, streaming: "false" }),
    // Observed once per streamed token: the cheap child (see histogramChild).
    itl: histogramChild(m.itl, { model }),
    eppItl: histogramChild(m.eppItl, epp),
    e2e: m.e2e.labels({ model }),
    eppDuration: m.eppDuration.labels(epp),
    inFlight: m.inFlight.labels({ model }),
    eppRunning: m.eppRunning.labels(epp),
    addedLatency: m.addedLatency.labels({ model }),
    eppRequests: m.eppRequests.labels(epp),
    eppInput: m.eppInputTokens.labels(epp),
    eppOutput: m.eppOutputTokens.labels(epp),
    eppCached: m.eppCachedTokens.labels(epp),
  };
}
type Bound = ReturnType<typeof bind>;

/**
 * Records a request's lifecycle: a RequestEvent per phase on `inferd.v1.requests.<model>`
 * (admitted, routed, first token, completed or failed) and the matching Prometheus series.
 */
export class RequestRecorder {
  readonly #metrics: GatewayMetrics;
  readonly #events: EventSink | undefined;
  readonly #gatewayId: string;
  readonly #bound = new Map<string, Bound>();
  /** The last binding used: a stream's gaps hit it once per token, without building a key. */
  #last: { model: string; baseModel: string; bound: Bound } | undefined;

  constructor(metrics: GatewayMetrics, events: EventSink | undefined, gatewayId: string) {
    this.#metrics = metrics;
    this.#events = events;
    this.#gatewayId = gatewayId;
  }

  #m(ctx: RequestContext): Bound {
    const last = this.#last;
    if (last !== undefined && last.model === ctx.target.model && last.baseModel === ctx.target.baseModel)
      return last.bound;
    const key = `${ctx.target.model}\u0000${ctx.target.baseModel}`;
    let b = this.#bound.get(key);
    if (b === undefined) {
      b = bind(this.#metrics, ctx.target.model, ctx.target.baseModel);
      this.#bound.set(key, b);
    }
    this.#last = { model: ctx.target.model, baseModel: ctx.target.baseModel, bound: b };
    return b;
  }

  admitted(ctx: RequestContext): void {
    this.#m(ctx).eppRequests.inc();
    this.#publish(ctx, RequestPhase.ADMITTED, {});
  }

  routed(ctx: RequestContext): void {
    const m = this.#m(ctx);
    const overhead = (performance.now() - ctx.startedAt - ctx.queuedMs - ctx.prefillMs) / 1000;
    m.addedLatency.observe(overhead);
    this.#metrics.eppProcessing.observe(overhead);
    m.inFlight.inc();
    m.eppRunning.inc();
    // Scorer replicas add the uncached prefill this request brings to the pod's queue.
    this.#publish(ctx, RequestPhase.ROUTED, { cachedTokens: ctx.expectedCachedTokens });
  }

  /** Fallback moved the request to another endpoint (ctx.endpoint). */
  rerouted(ctx: RequestContext): void {
    this.#publish(ctx, RequestPhase.ROUTED, { cachedTokens: ctx.expectedCachedTokens });
  }

  /** The request left the routed state (answer finished or failed after routing). */
  unrouted(ctx: RequestContext): void {
    const m = this.#m(ctx);
    m.inFlight.dec();
    m.eppRunning.dec();
  }

  firstToken(ctx: RequestContext): void {
    const ttft = (ctx.firstTokenAt! - ctx.startedAt) / 1000;
    this.#publish(ctx, RequestPhase.FIRST_TOKEN, { ttftSeconds: ttft });
  }

  /** One streamed gap (ITL) as it happens. */
  gap(ctx: RequestContext, seconds: number): void {
    const m = this.#m(ctx);
    m.itl(seconds);
    m.eppItl(seconds);
  }

  finished(ctx: RequestContext, outcome: Outcome): void {
    const now = performance.now();
    const e2e = (now - ctx.startedAt) / 1000;
    const m = this.#m(ctx);
    const firstAt = ctx.stream ? ctx.firstTokenAt : outcome.firstByteAt;
    const ttft = firstAt !== undefined ? (firstAt - ctx.startedAt) / 1000 : 0;
    const failed = outcome.errorCode !== "";
    if (failed) {
      this.#metrics.requests.inc({ model: ctx.target.model, outcome: outcome.errorCode });
      this.#metrics.eppErrors.inc({ ...m.epp, error_code: outcome.errorCode });
    } else {
      m.ok.inc();
      m.e2e.observe(e2e);
      m.eppDuration.observe(e2e);
      if (firstAt !== undefined) {
        (ctx.stream ? m.ttft : m.ttftNonStream).observe(ttft);
        (ctx.stream ? m.eppTtft : m.eppTtftNonStream).observe(ttft);
      }
      if (ctx.usage !== undefined) {
        m.eppInput.observe(ctx.usage.promptTokens);
        m.eppOutput.observe(ctx.usage.completionTokens);
        m.eppCached.observe(ctx.usage.cachedTokens);
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
      promptTokens: ctx.usage?.promptTokens ?? ctx.promptTokensEstimate,
      completionTokens: ctx.usage?.completionTokens ?? 0,
      cachedTokens: ctx.usage?.cachedTokens ?? 0,
    });
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
    // The fields are read now; the message is built when the sink publishes it, after the upstream
    // request is written (building it cold cost ~45 µs per event, ADMITTED and ROUTED both on the
    // path to the model server). The time is the same as timestampNow()'s: Date.now() taken here.
    const timeMs = Date.now();
    const init = {
      requestId: ctx.meta.requestId,
      clientRequestId: ctx.meta.clientRequestId,
      phase,
      model: ctx.target.model,
      baseModel: ctx.target.baseModel,
      endpoint: ctx.endpoint,
      prefillEndpoint: ctx.prefillEndpoint,
      priority: ctx.meta.priority,
      fairnessId: ctx.meta.fairnessId,
      sessionId: ctx.meta.sessionId,
      stream: ctx.stream,
      maxTokens: ctx.maxTokens,
      promptTokens: ctx.promptTokensEstimate,
      queueSeconds: ctx.queuedMs / 1000,
      gatewayId: this.#gatewayId,
      ...extra,
    };
    this.#events.requestEvent(ctx.target.model, () =>
      make(RequestEventSchema, { ...init, time: timestampFromMs(timeMs) }),
    );
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
