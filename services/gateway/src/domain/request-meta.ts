/**
 * What the gateway reads from request headers (reference B4 / §1.8): correlation id, session,
 * priority (from the objective), fairness id and SLO targets. Pure: no I/O.
 */

export type HeaderBag = Record<string, string | string[] | undefined>;

export interface RequestMeta {
  /**
   * The gateway's own id, minted per request: the key of in-flight accounting and lifecycle events.
   * Never the client's header, which clients reuse (two concurrent requests would overwrite each
   * other's accounting, and a reused id would be ignored as already finished).
   */
  requestId: string;
  /** The client's x-request-id (empty when absent): echoed back and logged, for correlation only. */
  clientRequestId: string;
  /** x-session-id, else llm-d's x-session-token (which the gateway sets on every answer). */
  sessionId: string;
  /** Objective name as sent (empty when absent). */
  objective: string;
  /** Higher = more important; negative = sheddable. */
  priority: number;
  fairnessId: string;
  sloTtftMs: number | undefined;
  sloTpotMs: number | undefined;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** llm-d's default flow when no fairness id is sent. */
export const DEFAULT_FAIRNESS_ID = "default-flow";

function first(headers: HeaderBag, ...names: string[]): string {
  for (const name of names) {
    const v = headers[name];
    const s = Array.isArray(v) ? v[0] : v;
    if (s !== undefined && s !== "") return s.trim();
  }
  return "";
}

function positiveMs(raw: string, header: string): number | undefined {
  if (raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new HeaderError(header, `must be a positive number of milliseconds, got "${raw}"`);
  return n;
}

export class HeaderError extends Error {
  readonly header: string;
  constructor(header: string, problem: string) {
    super(`header ${header} ${problem}`);
    this.header = header;
  }
}

/**
 * Reads the routing headers (new llm-d names first, legacy GAIE names as fallback).
 * The objective maps to a priority through `objectives`; an integer objective is taken as the
 * priority itself (handy without InferenceObjective objects); an unknown name means priority 0,
 * as in llm-d.
 */
export function readRequestMeta(
  headers: HeaderBag,
  objectives: ReadonlyMap<string, number>,
  newRequestId: () => string,
): RequestMeta {
  const objective = first(headers, "x-llm-d-inference-objective", "x-gateway-inference-objective");
  let priority = 0;
  if (objective !== "") {
    const mapped = objectives.get(objective);
    if (mapped !== undefined) priority = mapped;
    else if (/^-?\d+$/.test(objective)) {
      // The priority is an int32 in PickRequest and RequestEvent: refuse what it cannot hold
      // here rather than fail the encoding later.
      priority = Number(objective);
      if (priority < INT32_MIN || priority > INT32_MAX)
        throw new HeaderError("x-llm-d-inference-objective", `priority ${objective} is outside int32`);
    }
  }
  return {
    requestId: newRequestId(),
    clientRequestId: first(headers, "x-request-id"),
    sessionId: first(headers, "x-session-id", "x-session-token"),
    objective,
    priority,
    fairnessId:
      first(headers, "x-llm-d-inference-fairness-id", "x-gateway-inference-fairness-id") ||
      DEFAULT_FAIRNESS_ID,
    sloTtftMs: positiveMs(first(headers, "x-llm-d-slo-ttft-ms", "x-slo-ttft-ms"), "x-llm-d-slo-ttft-ms"),
    sloTpotMs: positiveMs(first(headers, "x-llm-d-slo-tpot-ms", "x-slo-tpot-ms"), "x-llm-d-slo-tpot-ms"),
  };
}

/** The bearer token of an Authorization header, or "" when there is none. */
export function bearerToken(headers: HeaderBag): string {
  const auth = first(headers, "authorization");
  const m = /^Bearer\s+(.+)$/i.exec(auth);
  return m ? m[1]!.trim() : "";
}
