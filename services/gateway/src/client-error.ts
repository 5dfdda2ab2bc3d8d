import type { Socket } from "node:net";
import { errorBody } from "./domain/errors.ts";

/**
 * Answers what node's HTTP parser refuses before fastify sees a request (oversized headers,
 * a client too slow to send its request, garbage on the wire) with the OpenAI error JSON every
 * other gateway error has, then closes the connection.
 */
export function clientErrorHandler(onRefused: (status: number, reason: string, remote: string) => void) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => answerClientError(err, socket, onRefused);
}

function answerClientError(
  err: NodeJS.ErrnoException,
  socket: Socket,
  onRefused: (status: number, reason: string, remote: string) => void,
): void {
  const [status, code, message] = classify(err.code);
  if (!socket.writable) {
    // The client is gone (reset, closed mid-request): nothing to answer or audit.
    socket.destroy();
    return;
  }
  onRefused(status, code, socket.remoteAddress ?? "");
  const body = JSON.stringify(errorBody(message, "invalid_request_error", code));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nconnection: close\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

function classify(code: string | undefined): [number, string, string] {
  if (code === "HPE_HEADER_OVERFLOW")
    return [431, "headers_too_large", "request headers are larger than the gateway accepts"];
  if (code === "ERR_HTTP_REQUEST_TIMEOUT")
    return [408, "request_timeout", "the request was not received in time"];
  return [400, "bad_request", "malformed HTTP request"];
}
