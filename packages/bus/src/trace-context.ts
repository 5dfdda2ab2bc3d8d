/**
 * W3C trace context over NATS message headers (`traceparent`, `tracestate`), so a trace continues
 * from the gateway through the scorer to kv-index. Uses the global OpenTelemetry API: when the process
 * records no spans (no tracer provider), the caller's context still passes through unchanged.
 */

import { type MsgHdrs, headers as makeHeaders } from "@nats-io/nats-core";
import {
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";

const tracer = () => trace.getTracer("@inferd/bus");

const setter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

const getter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (carrier) => carrier?.keys() ?? [],
  get: (carrier, key) => carrier?.get(key) || undefined,
};

/**
 * `base` plus the trace context of `ctx`; `base` itself (no copy) when there is no trace, so the hot
 * path without tracing allocates nothing.
 */
export function withTraceContext(base: MsgHdrs, ctx: Context = context.active()): MsgHdrs {
  if (trace.getSpanContext(ctx) === undefined) return base;
  const h = makeHeaders();
  for (const k of base.keys()) for (const v of base.values(k)) h.append(k, v);
  propagation.inject(ctx, h, setter);
  return h;
}

/** The trace context a message carries (the active one when it carries none). */
export function contextOf(h: MsgHdrs | undefined): Context {
  return propagation.extract(context.active(), h, getter);
}

/**
 * Runs `fn` in a span (kind CLIENT or SERVER) whose parent is `parent`; the span records an error
 * thrown by `fn` and ends when `fn` settles.
 */
export async function inSpan<T>(
  name: string,
  kind: SpanKind,
  parent: Context,
  attributes: Record<string, string>,
  fn: (span: Span, ctx: Context) => Promise<T>,
): Promise<T> {
  const span = tracer().startSpan(name, { kind, attributes }, parent);
  const ctx = trace.setSpan(parent, span);
  try {
    return await context.with(ctx, () => fn(span, ctx));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

export { SpanKind };
