import { unescapeToken } from "@inferd/protocol";

/** One decoded message as `inferd events tail` prints it. */
export interface TailedEvent {
  subject: string;
  /** Fully qualified protobuf type, e.g. inferd.v1.RequestEvent. */
  type: string;
  /** Protobuf-JSON of the payload (empty for a deleted inventory entry). */
  message: Record<string, unknown>;
  /** Stream sequence, for messages read from a stream. */
  streamSeq?: number;
  /** The inventory entry was deleted or purged. */
  deleted?: boolean;
}

export function formatJson(event: TailedEvent): string {
  return JSON.stringify(event);
}

type Json = Record<string, unknown>;
const num = (v: unknown, digits = 0) => (typeof v === "number" ? v.toFixed(digits) : "-");
const ms = (seconds: unknown) => (typeof seconds === "number" ? `${(seconds * 1000).toFixed(0)}ms` : "-");
const enumTail = (v: unknown, prefix: string) => (typeof v === "string" ? v.replace(prefix, "") : "?");

/** A one-line summary per message type, for people; anything else prints as compact JSON. */
const SUMMARIES: Record<string, (m: Json) => string> = {
  "inferd.v1.RequestEvent": (m) =>
    [
      enumTail(m.phase, "REQUEST_PHASE_"),
      m.model,
      `id=${m.requestId ?? "-"}`,
      m.endpoint ? `endpoint=${m.endpoint}` : "",
      m.prefillEndpoint ? `prefill=${m.prefillEndpoint}` : "",
      m.ttftSeconds !== undefined ? `ttft=${ms(m.ttftSeconds)}` : "",
      m.itlP90Seconds !== undefined ? `itl_p90=${ms(m.itlP90Seconds)}` : "",
      m.promptTokens !== undefined ? `prompt=${m.promptTokens}` : "",
      m.cachedTokens !== undefined ? `cached=${m.cachedTokens}` : "",
      m.completionTokens !== undefined ? `output=${m.completionTokens}` : "",
      m.errorCode ? `error=${m.errorCode}` : "",
    ]
      .filter(Boolean)
      .join(" "),
  "inferd.v1.KvEventBatch": (m) => {
    const counts = new Map<string, number>();
    for (const e of (m.events as Json[] | undefined) ?? []) {
      const kind = Object.keys(e)[0] ?? "unknown";
      const blocks = ((e[kind] as Json | undefined)?.blockHashes as unknown[] | undefined)?.length ?? 1;
      counts.set(kind, (counts.get(kind) ?? 0) + blocks);
    }
    const parts = [...counts].map(([kind, n]) => `${kind}=${n}`);
    return `${m.model} ${m.pod} seq=${m.seq ?? 0}${m.replayed ? " replayed" : ""} ${parts.join(" ")}`.trim();
  },
  "inferd.v1.ScaleDecision": (m) =>
    `${m.model}/${m.pool} ${m.currentReplicas ?? 0} -> ${m.desiredReplicas ?? 0}: ${m.reason ?? ""}`,
  "inferd.v1.EndpointLoad": (m) =>
    `${m.model} ${m.pod} ${m.reachable ? "" : "unreachable "}waiting=${num(m.requestsWaiting)} running=${num(m.requestsRunning)} kv=${typeof m.kvCacheUsage === "number" ? `${(m.kvCacheUsage * 100).toFixed(1)}%` : "-"}`,
  "inferd.v1.Demand": (m) =>
    `${m.model} held=${m.heldRequests ?? 0} oldest=${ms(m.oldestWaitSeconds)} gateway=${m.gatewayId ?? "-"}`,
  "inferd.v1.Endpoint": (m) =>
    `${m.model} ${m.pod} ${m.address} ${m.ready ? "ready" : "not-ready"} role=${enumTail(m.role ?? "ENDPOINT_ROLE_BOTH", "ENDPOINT_ROLE_")}${m.pool ? ` pool=${m.pool}` : ""}`,
};

export function formatHuman(event: TailedEvent, now: Date = new Date()): string {
  const time = now.toISOString().slice(11, 23);
  const shortType = event.type.replace(/^inferd\.v1\./, "");
  if (event.deleted) {
    const key = event.subject.split(".").slice(-2).map(unescapeToken).join(" ");
    return `${time} ${shortType} ${key} deleted`;
  }
  const summary = SUMMARIES[event.type]?.(event.message) ?? JSON.stringify(event.message);
  return `${time} ${shortType} ${summary}`;
}
