import type { CycleState } from "../../framework/cycle.ts";
import type { Handle, SessionLookup } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Scorer } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";

export const SESSION_AFFINITY_SCORER = "session-affinity-scorer";

/**
 * Session stickiness: 1.0 for the pod the session last went to, 0 for the others; an unbound
 * session (or none) gives no preference. Bindings come from the request lifecycle events, so every
 * scorer replica sees the same ones, and from this replica's own picks. A session key with no
 * binding that is llm-d's `x-session-token` (base64 of `pod` or `namespace/pod`, which the gateway
 * sets on every answer) names its pod itself, so stickiness survives scorer restarts.
 */
export class SessionAffinityScorer implements Scorer {
  readonly type = SESSION_AFFINITY_SCORER;
  readonly name: string;
  private readonly sessions: SessionLookup;
  private readonly maxIdleMs: number;

  constructor(sessions: SessionLookup, maxIdleMs: number, name: string = SESSION_AFFINITY_SCORER) {
    this.sessions = sessions;
    this.maxIdleMs = maxIdleMs;
    this.name = name;
  }

  score(cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number> {
    const out = new Map<string, number>();
    const id = cycle.request.sessionId;
    if (!id) return out;
    const bound = this.sessions.get(id, cycle.nowMs, this.maxIdleMs) ?? podOfToken(id, endpoints);
    if (!bound || !endpoints.some((e) => e.pod === bound)) return out;
    for (const e of endpoints) out.set(e.pod, e.pod === bound ? 1 : 0);
    return out;
  }
}

export function sessionAffinityScorerFactory(
  name: string,
  params: Params,
  handle: Handle,
): SessionAffinityScorer {
  const algorithm = params.oneOf(
    "algorithm",
    ["session_id_header", "encoded_endpoint_header"],
    "session_id_header",
  );
  // Both algorithms are served at once: bindings for x-session-id, decoding for x-session-token.
  void algorithm;
  const ttlSeconds = params.number("evictionTtlSeconds", 600, { min: Number.MIN_VALUE });
  params.ignore("headerName", "profileName", "evictionSweepSeconds", "missThreshold");
  return new SessionAffinityScorer(handle.sessions, ttlSeconds * 1000, name);
}

/** The candidate pod an llm-d session token (base64 of `pod` or `namespace/pod`) names, if any. */
export function podOfToken(token: string, endpoints: readonly Endpoint[]): string | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return undefined;
  const decoded = Buffer.from(token, "base64").toString("utf8");
  if (Buffer.from(decoded, "utf8").toString("base64").replace(/=+$/, "") !== token.replace(/=+$/, ""))
    return undefined;
  return endpoints.find((e) => e.pod === decoded || decoded.endsWith(`/${e.pod}`))?.pod;
}
