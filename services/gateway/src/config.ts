import { hostname } from "node:os";
import {
  bool,
  type ConfigOf,
  int,
  json,
  natsCredentialFields,
  oneOf,
  requestsStreamFields,
  str,
  streamReplicasFields,
  tracingFields,
} from "@inferd/service-kit";
import type { InventoryEndpoint, Role } from "./domain/inventory.ts";
import { DEFAULT_POLICY, ModelPolicies } from "./domain/model-policy.ts";

/** A static endpoint list (for users without a deployer writing INFERD_ENDPOINTS). */
export function parseStaticEndpoints(raw: unknown): InventoryEndpoint[] {
  if (!Array.isArray(raw))
    throw new Error("must be a list of {model, address, pod?, role?, loraAdapters?, ready?, pool?}");
  return raw.map((e, i) => {
    const where = `endpoints[${i}]`;
    if (typeof e !== "object" || e === null) throw new Error(`${where} must be a map`);
    const o = e as Record<string, unknown>;
    if (typeof o.model !== "string" || o.model === "")
      throw new Error(`${where}.model must be a non-empty string`);
    if (typeof o.address !== "string" || !/^https?:\/\/[^/]+/.test(o.address)) {
      throw new Error(`${where}.address must be an http(s) base URL, got ${JSON.stringify(o.address)}`);
    }
    const role = (o.role ?? "both") as Role;
    if (!["both", "prefill", "decode"].includes(role))
      throw new Error(`${where}.role must be both, prefill or decode`);
    const adapters = o.loraAdapters ?? [];
    if (!Array.isArray(adapters) || !adapters.every((a) => typeof a === "string")) {
      throw new Error(`${where}.loraAdapters must be a list of strings`);
    }
    return {
      model: o.model,
      pod: typeof o.pod === "string" && o.pod !== "" ? o.pod : new URL(o.address).host,
      address: o.address,
      role,
      loraAdapters: adapters as string[],
      ready: o.ready === undefined ? true : o.ready === true,
      pool: typeof o.pool === "string" ? o.pool : "",
    };
  });
}

function parseObjectives(raw: unknown): Record<string, number> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new Error("must be a map of objective name -> priority");
  for (const [k, v] of Object.entries(raw)) {
    // Priorities travel as int32 (PickRequest, RequestEvent).
    if (typeof v !== "number" || !Number.isInteger(v) || v < -2147483648 || v > 2147483647)
      throw new Error(`objectives.${k} must be an int32 priority`);
  }
  return raw as Record<string, number>;
}

function policyMap(which: "modelDefaults" | "models") {
  return (raw: unknown): Record<string, unknown> => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("must be a map");
    // Validated here so a bad value stops the service with the key named.
    if (which === "modelDefaults") ModelPolicies.parse(raw, {});
    else ModelPolicies.parse({}, raw);
    return raw as Record<string, unknown>;
  };
}

export const gatewayConfigSpec = {
  host: str({ default: "0.0.0.0", doc: "Address the HTTP server binds." }),
  port: int({ default: 8080, min: 0, max: 65535, doc: "OpenAI API, /metrics, /healthz, /readyz." }),
  natsUrl: str({
    default: "",
    doc: "NATS servers (comma-separated). Empty: no scorer, no events, static endpoints only.",
  }),
  subjectPrefix: str({
    default: "inferd",
    doc: "Prefix of every NATS subject; stream and bucket names carry it too (<PREFIX>_REQUESTS).",
  }),
  ...requestsStreamFields(),
  ...streamReplicasFields(),
  ...tracingFields(),
  useScorer: bool({
    default: true,
    doc: "Ask the scorer (inferd.v1.sched.pick); false = always pick locally (least loaded).",
  }),
  scorerMode: oneOf(["nats", "embedded"], {
    default: "nats",
    doc: "Where picks are made: nats = ask scorer processes over inferd.v1.sched.pick; embedded = run the scorer inside this process (no pick hop; needs natsUrl; see scorerConfig).",
  }),
  scorerConfig: str({
    default: "",
    doc: "scorerMode embedded: the scorer's YAML config file (its keys; INFERD_SCORER_* env still wins). natsUrl, subjectPrefix and NATS credentials default to the gateway's.",
  }),
  pickDeadlineMs: int({
    default: 500,
    min: 1,
    doc: "Deadline of one pick call; past it the model's pickDeadlineMode applies (default: a local pick).",
  }),
  localPrefixChunksPerPod: int({
    default: 16_384,
    min: 1,
    doc: "Prompt chunks (128 characters) remembered per endpoint for local picks; the least recently sent go first.",
  }),
  endpoints: json<InventoryEndpoint[]>({
    default: [],
    doc: "Static endpoint list; when non-empty it replaces the <PREFIX>_ENDPOINTS bucket.",
    validate: parseStaticEndpoints,
  }),
  objectives: json<Record<string, number>>({
    default: {},
    doc: "x-llm-d-inference-objective name -> priority (negative = sheddable).",
    validate: parseObjectives,
  }),
  modelDefaults: json<Record<string, unknown>>({
    default: { ...DEFAULT_POLICY },
    doc: "Policy for models without an entry: failureMode, pickDeadlineMode, apiKeys, queueTtlMs, noEndpointTtlMs, maxQueued, maxConcurrencyPerEndpoint.",
    validate: policyMap("modelDefaults"),
  }),
  models: json<Record<string, unknown>>({
    default: {},
    doc: "Per-model policy overrides (same keys as modelDefaults).",
    validate: policyMap("models"),
  }),
  maxConcurrentPerClient: int({
    default: 1024,
    min: 0,
    doc: "Most requests one client (its API key, else its address) may have in flight (429 above); 0 = no limit.",
  }),
  tlsCertFile: str({ default: "", doc: "PEM certificate chain: serve HTTPS (with tlsKeyFile)." }),
  tlsKeyFile: str({ default: "", doc: "PEM private key of tlsCertFile." }),
  apiKeysFile: str({
    default: "",
    doc: "File of API keys, one `<model or *> <sha256:hex or key>` per line; reloaded when it changes.",
  }),
  bodyLimitBytes: int({
    default: 8 * 1024 * 1024,
    min: 1024,
    doc: "Largest request body accepted (413 above).",
  }),
  headersTimeoutMs: int({
    default: 10_000,
    min: 10,
    doc: "Time a client has to send its request headers (slow clients get 408 and are closed).",
  }),
  requestTimeoutMs: int({
    default: 60_000,
    min: 10,
    doc: "Time a client has to send its whole request, headers and body (408 above).",
  }),
  maxHeaderBytes: int({
    default: 16 * 1024,
    min: 1024,
    doc: "Largest request header block accepted (431 above).",
  }),
  upstreamConnections: int({
    default: 4096,
    min: 1,
    doc: "Most keep-alive connections per model server (one per in-flight request).",
  }),
  upstreamConnectTimeoutMs: int({
    default: 2000,
    min: 1,
    doc: "Connect timeout to a model server (then the next endpoint is tried).",
  }),
  upstreamHeadersTimeoutMs: int({
    default: 600_000,
    min: 1,
    doc: "Time allowed until a model server sends response headers.",
  }),
  upstreamBodyTimeoutMs: int({ default: 600_000, min: 1, doc: "Time allowed between two response chunks." }),
  queueRetryIntervalMs: int({ default: 100, min: 1, doc: "Retry tick of waiting requests." }),
  demandIntervalMs: int({
    default: 100,
    min: 10,
    doc: "Demand publication interval while a pool at zero holds requests.",
  }),
  gatewayId: str({ default: `${hostname()}-${process.pid}`, doc: "Replica identity on RequestEvents." }),
  logLevel: str({ default: "info", doc: "pino level." }),
  shutdownDeadlineMs: int({ default: 10_000, min: 100, doc: "Time to drain in-flight requests on SIGTERM." }),
  ...natsCredentialFields(),
};

export type GatewayConfig = ConfigOf<typeof gatewayConfigSpec>;
