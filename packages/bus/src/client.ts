import type { DescMessage, MessageShape, WireFormat } from "@inferd/protocol";
import type { NatsConnection } from "@nats-io/nats-core";
import { ServiceError as MicroServiceError } from "@nats-io/services";
import { context } from "@opentelemetry/api";
import { parseErrorDescription, ServiceCallError } from "./errors.ts";
import { decodeMessage, encodeMessage, messageHeaders } from "./message.ts";
import { inSpan, SpanKind, withTraceContext } from "./trace-context.ts";

export interface ServiceClient<Req extends DescMessage, Res extends DescMessage> {
  /** Sends one request; throws ServiceCallError on an error reply, a timeout or no responder. */
  call(request: MessageShape<Req>, options?: { timeoutMs?: number }): Promise<MessageShape<Res>>;
}

export function serviceClient<Req extends DescMessage, Res extends DescMessage>(
  nc: NatsConnection,
  subject: string,
  request: Req,
  response: Res,
  options: { format?: WireFormat; defaultTimeoutMs?: number } = {},
): ServiceClient<Req, Res> {
  const format = options.format ?? "protobuf";
  const baseHeaders = messageHeaders(request, format);
  const attributes = { "messaging.system": "nats", "messaging.destination.name": subject };
  return {
    call(message, callOptions = {}) {
      // A CLIENT span per call; its context travels in the request's headers (traceparent).
      return inSpan(
        `request ${subject}`,
        SpanKind.CLIENT,
        context.active(),
        attributes,
        async (_span, ctx) => {
          return callOnce(message, callOptions, withTraceContext(baseHeaders, ctx));
        },
      );
    },
  };

  async function callOnce(
    message: MessageShape<Req>,
    callOptions: { timeoutMs?: number },
    headers: ReturnType<typeof messageHeaders>,
  ): Promise<MessageShape<Res>> {
    const timeout = callOptions.timeoutMs ?? options.defaultTimeoutMs ?? 2_000;
    let reply: Awaited<ReturnType<NatsConnection["request"]>>;
    try {
      reply = await nc.request(subject, encodeMessage(request, message, format), {
        timeout,
        headers,
      });
    } catch (err) {
      const text = (err as Error).message ?? String(err);
      const code =
        /no responders/i.test(text) || (err as { name?: string }).name === "NoRespondersError"
          ? "no_responders"
          : /timeout/i.test(text)
            ? "timeout"
            : "request_failed";
      throw new ServiceCallError(subject, 503, code, text);
    }
    const serviceError = MicroServiceError.toServiceError(reply);
    if (serviceError) {
      const { code, message: text } = parseErrorDescription(serviceError.message);
      throw new ServiceCallError(subject, serviceError.code, code, text);
    }
    return decodeMessage(reply, response);
  }
}
