/**
 * Per-model settings (YAML `models:` section): what to do when the scorer is unreachable, which
 * API keys may call the model, and how long requests may wait. A model without an entry gets
 * the `modelDefaults`. Pure: parsing and validation only.
 */

export type FailureMode = "FailOpen" | "FailClose";
/** What a pick past its deadline does: route with the gateway's local view, or answer 503. */
export type PickDeadlineMode = "LocalPick" | "FailClose";

/**
 * Who runs the P/D legs: the gateway itself (prefill leg, then decode with its kv_transfer_params),
 * or llm-d's routing sidecar in front of the decode server, which the gateway tells where to
 * prefill with `x-prefiller-host-port` (and which would run the prefill leg a second time if the
 * gateway had run it already).
 */
export type PdLegs = "gateway" | "sidecar";

export interface ModelPolicy {
  /** Scorer unreachable or late: FailOpen picks locally (least loaded), FailClose answers 503. */
  failureMode: FailureMode;
  /**
   * The scorer answered nothing within `pickDeadlineMs` (it is up but slow, e.g. CPU
   * contention): LocalPick (default) routes with the gateway's approximate prefix view and
   * load, FailClose answers 503 as for an unreachable scorer. A slow pick never fails a
   * request unless this says so.
   */
  pickDeadlineMode: PickDeadlineMode;
  /** Bearer keys allowed for this model; empty = no key needed. */
  apiKeys: readonly string[];
  /** How long a request may wait for capacity while every endpoint is saturated. */
  queueTtlMs: number;
  /** How long a request is held while the pool has no ready endpoint (scale from zero). */
  noEndpointTtlMs: number;
  /** Most requests waiting for this model in this gateway. */
  maxQueued: number;
  /**
   * Gateway-side saturation: an endpoint with this many requests in flight from this gateway is
   * full (0 = no local limit; the scorer's SATURATED outcome still applies).
   */
  maxConcurrencyPerEndpoint: number;
  /**
   * Bearer key sent to the model servers instead of the client's Authorization (vLLM started with
   * `--api-key`); empty = the client's Authorization passes through.
   */
  upstreamApiKey: string;
  pdLegs: PdLegs;
  /**
   * Send non-streaming requests upstream as streams and assemble the answer, so the first token is
   * seen (FIRST_TOKEN, TTFT) as for streams; bodies that cannot be assembled exactly pass unchanged.
   */
  assembleNonStreaming: boolean;
}

export const DEFAULT_POLICY: ModelPolicy = Object.freeze({
  failureMode: "FailClose",
  pickDeadlineMode: "LocalPick",
  apiKeys: Object.freeze([]) as readonly string[],
  queueTtlMs: 30_000,
  noEndpointTtlMs: 60_000,
  maxQueued: 1000,
  maxConcurrencyPerEndpoint: 0,
  upstreamApiKey: "",
  pdLegs: "gateway",
  assembleNonStreaming: true,
});

function fail(where: string, problem: string): never {
  throw new Error(`config ${where}: ${problem}`);
}

function parseOne(where: string, raw: unknown, base: ModelPolicy): ModelPolicy {
  if (raw === null || raw === undefined) return base;
  if (typeof raw !== "object" || Array.isArray(raw)) fail(where, "must be a map");
  const o = raw as Record<string, unknown>;
  const known = new Set(Object.keys(DEFAULT_POLICY));
  for (const k of Object.keys(o))
    if (!known.has(k)) fail(`${where}.${k}`, `unknown key (known: ${[...known].join(", ")})`);
  const out: ModelPolicy = { ...base };
  if (o.failureMode !== undefined) {
    if (o.failureMode !== "FailOpen" && o.failureMode !== "FailClose") {
      fail(`${where}.failureMode`, `must be FailOpen or FailClose, got ${JSON.stringify(o.failureMode)}`);
    }
    out.failureMode = o.failureMode;
  }
  if (o.pickDeadlineMode !== undefined) {
    if (o.pickDeadlineMode !== "LocalPick" && o.pickDeadlineMode !== "FailClose") {
      fail(
        `${where}.pickDeadlineMode`,
        `must be LocalPick or FailClose, got ${JSON.stringify(o.pickDeadlineMode)}`,
      );
    }
    out.pickDeadlineMode = o.pickDeadlineMode;
  }
  if (o.apiKeys !== undefined) {
    if (!Array.isArray(o.apiKeys) || !o.apiKeys.every((k) => typeof k === "string" && k !== "")) {
      fail(`${where}.apiKeys`, "must be a list of non-empty strings");
    }
    out.apiKeys = o.apiKeys as string[];
  }
  if (o.upstreamApiKey !== undefined) {
    if (typeof o.upstreamApiKey !== "string") fail(`${where}.upstreamApiKey`, "must be a string");
    out.upstreamApiKey = o.upstreamApiKey;
  }
  if (o.assembleNonStreaming !== undefined) {
    if (typeof o.assembleNonStreaming !== "boolean")
      fail(
        `${where}.assembleNonStreaming`,
        `must be true or false, got ${JSON.stringify(o.assembleNonStreaming)}`,
      );
    out.assembleNonStreaming = o.assembleNonStreaming;
  }
  if (o.pdLegs !== undefined) {
    if (o.pdLegs !== "gateway" && o.pdLegs !== "sidecar")
      fail(`${where}.pdLegs`, `must be gateway or sidecar, got ${JSON.stringify(o.pdLegs)}`);
    out.pdLegs = o.pdLegs;
  }
  for (const k of ["queueTtlMs", "noEndpointTtlMs", "maxQueued", "maxConcurrencyPerEndpoint"] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
      fail(`${where}.${k}`, `must be an integer >= 0, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  if (out.maxQueued === 0) fail(`${where}.maxQueued`, "must be > 0");
  return out;
}

export class ModelPolicies {
  readonly defaults: ModelPolicy;
  readonly #byModel: Map<string, ModelPolicy>;

  constructor(defaults: ModelPolicy, byModel: Map<string, ModelPolicy>) {
    this.defaults = defaults;
    this.#byModel = byModel;
  }

  /** Parses `modelDefaults` and `models` (model name -> partial policy). Throws naming the bad key. */
  static parse(defaultsRaw: unknown, modelsRaw: unknown): ModelPolicies {
    const defaults = parseOne("modelDefaults", defaultsRaw, DEFAULT_POLICY);
    const byModel = new Map<string, ModelPolicy>();
    if (modelsRaw !== undefined && modelsRaw !== null) {
      if (typeof modelsRaw !== "object" || Array.isArray(modelsRaw))
        fail("models", "must be a map of model name -> settings");
      for (const [model, raw] of Object.entries(modelsRaw as Record<string, unknown>)) {
        byModel.set(model, parseOne(`models.${model}`, raw, defaults));
      }
    }
    return new ModelPolicies(defaults, byModel);
  }

  /** The policy of a requested name; an adapter falls back to its base model's entry. */
  get(model: string, baseModel: string = model): ModelPolicy {
    return this.#byModel.get(model) ?? this.#byModel.get(baseModel) ?? this.defaults;
  }

  /** Models named in the configuration. */
  models(): string[] {
    return [...this.#byModel.keys()];
  }
}
