/**
 * The headers of an upstream (model server) request, built from the client's (RFC 9110 §7.6.1):
 * end-to-end headers pass through (Authorization, traceparent/tracestate, the user's own),
 * hop-by-hop ones and the ones the gateway rewrites do not. Pure: no I/O.
 */
import type { HeaderBag } from "./request-meta.ts";

/** Hop-by-hop headers (RFC 9110 §7.6.1 plus the de-facto ones): meaningful for one connection only. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Headers the gateway sets itself or that describe the client's message rather than the upstream
 * one: the body is re-serialised (length, type), the answer is relayed unencoded (so no
 * accept-encoding), and the request id is the gateway's.
 */
const REWRITTEN = new Set([
  "host",
  "content-length",
  "content-type",
  "content-encoding",
  "accept-encoding",
  "expect",
  "x-request-id",
  "x-prefiller-host-port",
]);

export interface UpstreamHeaderOptions {
  /** The gateway's id for the request, sent as x-request-id (vLLM uses it as its request id). */
  requestId: string;
  /** When set, replaces the client's Authorization (vLLM `--api-key` of the pool). */
  upstreamApiKey: string;
  /** host:port of the prefill server when a decode sidecar runs the P/D legs (llm-d protocol). */
  prefillerHostPort?: string;
}

export function upstreamHeaders(client: HeaderBag, opts: UpstreamHeaderOptions): Record<string, string> {
  const named = new Set<string>();
  for (const v of values(client.connection))
    for (const token of v.split(",")) {
      const t = token.trim().toLowerCase();
      if (t !== "") named.add(t);
    }
  const out: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(client)) {
    const name = rawName.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(name) || REWRITTEN.has(name) || named.has(name)) continue;
    // Pseudo-headers of HTTP/2 clients are not headers of the upstream HTTP/1.1 request.
    if (name.startsWith(":")) continue;
    out[name] = Array.isArray(value) ? value.join(name === "cookie" ? "; " : ", ") : value;
  }
  out["content-type"] = "application/json";
  out["x-request-id"] = opts.requestId;
  if (opts.upstreamApiKey !== "") out.authorization = `Bearer ${opts.upstreamApiKey}`;
  if (opts.prefillerHostPort !== undefined) out["x-prefiller-host-port"] = opts.prefillerHostPort;
  return out;
}

function values(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** `host:port` of a base URL, the form llm-d's x-prefiller-host-port carries. */
export function hostPort(address: string): string {
  const u = new URL(address);
  const port = u.port !== "" ? u.port : u.protocol === "https:" ? "443" : "80";
  // URL keeps an IPv6 hostname in brackets, as host:port needs it.
  return `${u.hostname}:${port}`;
}
