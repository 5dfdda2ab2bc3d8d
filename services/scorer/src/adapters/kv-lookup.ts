import {
  inSpan,
  messageHeaders,
  type NatsConnection,
  ServiceCallError,
  serviceClient,
  withTraceContext,
} from "@inferd/bus";
import { decode, KvLookupRequestSchema, KvLookupResponseSchema, subjects } from "@inferd/protocol";
import { context, SpanKind } from "@opentelemetry/api";
import type { KvLookupFn } from "../framework/handle.ts";
import { kvLookupAnswerOf, kvLookupRequestOf } from "./convert.ts";
import { encodeTokenLookup } from "./lookup-encoding.ts";

/**
 * The precise prefix producer's link to kv-index (`inferd.v1.kv.lookup`); failures throw (the producer
 * then fails open to approximate prefixes). Token-id lookups, the per-pick hot path, are encoded by hand;
 * other prompt forms go through the generic typed client.
 */
export function natsKvLookup(nc: NatsConnection, opts: { prefix: string; timeoutMs: number }): KvLookupFn {
  const subject = subjects(opts.prefix).kvLookup();
  const client = serviceClient(nc, subject, KvLookupRequestSchema, KvLookupResponseSchema, {
    defaultTimeoutMs: opts.timeoutMs,
  });
  const headers = messageHeaders(KvLookupRequestSchema);
  const attributes = { "messaging.system": "nats", "messaging.destination.name": subject };
  return async (query) => {
    const tokens = query.tokens;
    if (!tokens) return kvLookupAnswerOf(await client.call(kvLookupRequestOf(query)));
    // A CLIENT span, child of the pick's SERVER span; kv-index continues it (traceparent header).
    return inSpan(`request ${subject}`, SpanKind.CLIENT, context.active(), attributes, async (_span, ctx) => {
      const payload = encodeTokenLookup({
        model: query.model,
        loraName: query.lora ?? "",
        ids: tokens,
        candidatePods: query.candidatePods,
        cacheSalt: query.cacheSalt,
      });
      let reply: Awaited<ReturnType<NatsConnection["request"]>>;
      try {
        reply = await nc.request(subject, payload, {
          timeout: opts.timeoutMs,
          headers: withTraceContext(headers, ctx),
        });
      } catch (err) {
        const text = (err as Error).message ?? String(err);
        const code = /no responders/i.test(text)
          ? "no_responders"
          : /timeout/i.test(text)
            ? "timeout"
            : "request_failed";
        throw new ServiceCallError(subject, 503, code, text);
      }
      const status = reply.headers?.get("Nats-Service-Error-Code");
      if (status) {
        // The description is "<code>: <message>" (bus convention).
        const description = reply.headers?.get("Nats-Service-Error") ?? "";
        const m = /^([^\s:]+): (.*)$/s.exec(description);
        throw new ServiceCallError(subject, Number(status) || 500, m?.[1] ?? "error", m?.[2] ?? description);
      }
      return kvLookupAnswerOf(decode(KvLookupResponseSchema, reply.data));
    });
  };
}
