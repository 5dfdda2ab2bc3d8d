/**
 * OpenTelemetry for every service: W3C trace context (traceparent/tracestate) is always propagated
 * — through HTTP headers and NATS message headers — so a trace that enters the gateway continues
 * through the scorer to kv-index even when this process records nothing. Spans are recorded and
 * exported (OTLP over HTTP) only when an endpoint is configured: tracing is off by default.
 */
import { context, propagation, type Span, SpanKind, type Tracer, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, type SpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";

export { context, propagation, type Span, SpanKind, type Tracer, trace };

export interface TracingOptions {
  /** service.name of the spans, e.g. "inferd-gateway". */
  service: string;
  /** OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces); empty = record nothing. */
  otlpEndpoint: string;
  /** Span processors to use instead of the OTLP exporter (tests: an InMemorySpanExporter). */
  processors?: SpanProcessor[];
}

export interface Tracing {
  /** True when spans are recorded and exported. */
  readonly enabled: boolean;
  /** Exports what is buffered and stops (part of graceful shutdown). */
  shutdown(): Promise<void>;
}

let propagationReady = false;

/** The context manager and propagator, once per process: needed even when nothing is recorded. */
export function setupPropagation(): void {
  if (propagationReady) return;
  propagationReady = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

export function setupTracing(opts: TracingOptions): Tracing {
  setupPropagation();
  const processors =
    opts.processors ??
    (opts.otlpEndpoint !== ""
      ? [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: opts.otlpEndpoint }) })]
      : []);
  if (processors.length === 0) return { enabled: false, shutdown: async () => undefined };
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": opts.service }),
    spanProcessors: processors,
  });
  trace.setGlobalTracerProvider(provider);
  return { enabled: true, shutdown: () => provider.shutdown() };
}
