/**
 * llm-d's stateless session affinity (`encoded_endpoint_header`): every answer carries
 * `x-session-token` = base64 of the serving pod; a client that sends it back is routed to that pod
 * while it can serve. The gateway passes the token on as the request's session key; the scorer
 * decodes it when it holds no binding for it.
 */
export function sessionToken(pod: string): string {
  return Buffer.from(pod, "utf8").toString("base64");
}
