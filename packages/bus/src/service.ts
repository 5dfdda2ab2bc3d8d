import type { DescMessage, MessageShape } from "@inferd/protocol";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { type Service, type ServiceMsg, Svcm } from "@nats-io/services";
import { context } from "@opentelemetry/api";
import type { Logger } from "pino";
import { formatErrorDescription, ServiceError } from "./errors.ts";
import { decodeMessage, encodeMessage, formatOf, messageHeaders } from "./message.ts";
import { contextOf, inSpan, SpanKind } from "./trace-context.ts";

export interface EndpointSpec<Req extends DescMessage, Res extends DescMessage> {
  /** Endpoint name in $SRV.INFO, e.g. "pick". */
  name: string;
  subject: string;
  /** Queue group (default "q"), so replicas share the load. */
  queue?: string;
  request: Req;
  response: Res;
  handler(
    request: MessageShape<Req>,
    context: { headers: MsgHdrs | undefined; subject: string },
  ): Promise<MessageShape<Res>>;
}

/** Types a handler by its schemas (an inline object in `endpoints` would lose them). */
export function defineEndpoint<Req extends DescMessage, Res extends DescMessage>(
  spec: EndpointSpec<Req, Res>,
): EndpointSpec<Req, Res> {
  return spec;
}

export interface ServeServiceOptions {
  /** Service name, [A-Za-z0-9_-]. */
  name: string;
  version: string;
  description: string;
  /**
   * May be empty: a service that answers no requests (the gateway, a kv-index running only ingest)
   * still registers, so `nats micro ls` / $SRV.PING list every running part of an installation.
   */
  // biome-ignore lint/suspicious/noExplicitAny: endpoints of different message types live in one list
  endpoints: EndpointSpec<any, any>[];
  /** Shown in $SRV.INFO (e.g. the subject prefix, so two installations on one NATS can be told apart). */
  metadata?: Record<string, string>;
  logger?: Logger;
}

/**
 * Serves typed request/reply endpoints registered with the NATS micro-services API
 * ($SRV.PING / INFO / STATS). Requests are protobuf, or protobuf-JSON when the caller sends
 * `Content-Type: application/json`; the reply uses the caller's format. A malformed request
 * gets a 400 error reply; a ServiceError thrown by the handler is returned as is; anything
 * else becomes a 500 and is logged.
 */
export async function serveService(nc: NatsConnection, options: ServeServiceOptions): Promise<Service> {
  const service = await new Svcm(nc).add({
    name: options.name,
    version: options.version,
    description: options.description,
    ...(options.metadata ? { metadata: options.metadata } : {}),
  });
  for (const ep of options.endpoints) {
    service.addEndpoint(ep.name, {
      subject: ep.subject,
      queue: ep.queue ?? "q",
      metadata: { request: ep.request.typeName, response: ep.response.typeName },
      handler: (err, msg) => {
        if (err) {
          options.logger?.error({ err, endpoint: ep.name }, "service endpoint stopped");
          return;
        }
        // A SERVER span per request, child of the caller's (traceparent in the request headers);
        // the handler runs in its context, so its own calls (kv-index lookups) continue the trace.
        const span = endpointSpan(options.name, ep.name, ep.subject);
        void inSpan(span.name, SpanKind.SERVER, contextOf(msg.headers), span.attributes, () =>
          handle(ep, msg, options.logger),
        );
      },
    });
  }
  return service;
}

/** The name and attributes of the span a request to a service's endpoint runs in. */
export function endpointSpan(
  service: string,
  endpoint: string,
  subject: string,
): { name: string; attributes: Record<string, string> } {
  return {
    name: `${service} ${endpoint}`,
    attributes: { "messaging.system": "nats", "messaging.destination.name": subject },
  };
}

/**
 * `handler` called in process instead of over NATS (a service embedded in its caller's process),
 * in the span a request over NATS would get (same name and attributes, so traces and queries read
 * the same either way), kind INTERNAL (no hop), child of the caller's active span and recorded by
 * the process's tracer provider.
 */
export function inProcessEndpoint<Req, Res>(
  service: string,
  endpoint: string,
  subject: string,
  handler: (request: Req) => Promise<Res>,
): (request: Req) => Promise<Res> {
  const span = endpointSpan(service, endpoint, subject);
  return (request) =>
    inSpan(span.name, SpanKind.INTERNAL, context.active(), span.attributes, () => handler(request));
}

async function handle(
  // biome-ignore lint/suspicious/noExplicitAny: see ServeServiceOptions.endpoints
  ep: EndpointSpec<any, any>,
  msg: ServiceMsg,
  logger: Logger | undefined,
): Promise<void> {
  const format = formatOf(msg);
  // biome-ignore lint/suspicious/noExplicitAny: typed by the endpoint's own schema
  let request: any;
  try {
    request = decodeMessage(msg, ep.request);
  } catch (err) {
    msg.respondError(400, formatErrorDescription("bad_request", (err as Error).message));
    return;
  }
  try {
    const response = await ep.handler(request, { headers: msg.headers, subject: msg.subject });
    msg.respond(encodeMessage(ep.response, response, format), {
      headers: messageHeaders(ep.response, format),
    });
  } catch (err) {
    if (err instanceof ServiceError) {
      msg.respondError(err.status, formatErrorDescription(err.code, err.message));
    } else {
      logger?.error({ err, endpoint: ep.name }, "service handler failed");
      msg.respondError(500, formatErrorDescription("internal", (err as Error).message));
    }
  }
}
