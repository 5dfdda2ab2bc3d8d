/**
 * The scaling policy of one model pool and role, as written in the `pools:` list of the YAML
 * config: parsed over defaults and validated with one line per bad key. Pure.
 */

export type Role = "both" | "prefill" | "decode";
export const ROLES: readonly Role[] = ["both", "prefill", "decode"];

export interface PoolPolicy {
  readonly model: string;
  readonly pool: string;
  readonly role: Role;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** SLO: TTFT and ITL targets at a percentile (0.9 = p90) over `windowSeconds`. */
  readonly ttftSeconds: number;
  readonly itlSeconds: number;
  readonly percentile: number;
  /** Latency and arrival-rate window, s. */
  readonly windowSeconds: number;
  /** Plan for this fraction of the learned per-replica capacity (headroom for noise). */
  readonly targetUtilization: number;
  /** Capacity prior, requests/s per replica; 0 = unknown until learned. */
  readonly initialCapacityRps: number;
  /** How long a new replica takes to become ready: the forecast horizon, s. */
  readonly startupSeconds: number;
  /** Scale-up: stabilisation window (lowest recommendation in it wins), step limit, cooldown. */
  readonly scaleUpStabilizationSeconds: number;
  readonly scaleUpMaxStep: number;
  readonly scaleUpCooldownSeconds: number;
  /** Scale-down: stabilisation window (highest recommendation in it wins), step limit, cooldown. */
  readonly scaleDownStabilizationSeconds: number;
  readonly scaleDownMaxStep: number;
  readonly scaleDownCooldownSeconds: number;
  /** Requests waiting per replica that count as saturation (scale up even without latency data). */
  readonly queueThreshold: number;
  /** Scale to zero after this long without arrivals (off by default). */
  readonly scaleToZero: boolean;
  readonly idleSeconds: number;
  /** Replicas asked for at once when requests arrive for a pool at zero. */
  readonly fromZeroReplicas: number;
  /** An action still not complete after this long no longer blocks new decisions, s. */
  readonly actionTimeoutSeconds: number;
  /** WVA-compatible gauge labels. */
  readonly namespace: string;
  readonly acceleratorType: string;
}

export const POOL_DEFAULTS: Omit<PoolPolicy, "model" | "pool"> = {
  role: "both",
  minReplicas: 1,
  maxReplicas: 16,
  ttftSeconds: 2,
  itlSeconds: 0.05,
  percentile: 0.9,
  windowSeconds: 30,
  targetUtilization: 0.8,
  initialCapacityRps: 0,
  startupSeconds: 60,
  scaleUpStabilizationSeconds: 0,
  scaleUpMaxStep: 4,
  scaleUpCooldownSeconds: 0,
  scaleDownStabilizationSeconds: 120,
  scaleDownMaxStep: 2,
  scaleDownCooldownSeconds: 30,
  queueThreshold: 5,
  scaleToZero: false,
  idleSeconds: 600,
  fromZeroReplicas: 1,
  actionTimeoutSeconds: 600,
  namespace: "default",
  acceleratorType: "unknown",
};

type Check = (v: unknown) => string | undefined;
const num =
  (min: number, max = Number.POSITIVE_INFINITY, integer = false): Check =>
  (v) =>
    typeof v === "number" && Number.isFinite(v) && v >= min && v <= max && (!integer || Number.isInteger(v))
      ? undefined
      : `must be ${integer ? "an integer" : "a number"} ${max === Number.POSITIVE_INFINITY ? `>= ${min}` : `between ${min} and ${max}`}, got ${JSON.stringify(v)}`;
const int = (min: number, max?: number) => num(min, max, true);
const text: Check = (v) =>
  typeof v === "string" && v.length > 0 ? undefined : `must be a non-empty string, got ${JSON.stringify(v)}`;
const flag: Check = (v) =>
  typeof v === "boolean" ? undefined : `must be true or false, got ${JSON.stringify(v)}`;

const CHECKS: Record<keyof PoolPolicy, Check> = {
  model: text,
  pool: text,
  role: (v) =>
    ROLES.includes(v as Role) ? undefined : `must be one of ${ROLES.join(", ")}, got ${JSON.stringify(v)}`,
  minReplicas: int(0, 10_000),
  maxReplicas: int(1, 10_000),
  ttftSeconds: num(0.001),
  itlSeconds: num(0.0001),
  percentile: num(0.5, 0.999),
  windowSeconds: num(1, 3600),
  targetUtilization: num(0.1, 1),
  initialCapacityRps: num(0),
  startupSeconds: num(0, 3600),
  scaleUpStabilizationSeconds: num(0, 3600),
  scaleUpMaxStep: int(1, 10_000),
  scaleUpCooldownSeconds: num(0, 3600),
  scaleDownStabilizationSeconds: num(0, 3600),
  scaleDownMaxStep: int(1, 10_000),
  scaleDownCooldownSeconds: num(0, 3600),
  queueThreshold: num(0.1),
  scaleToZero: flag,
  idleSeconds: num(1, 7 * 86_400),
  fromZeroReplicas: int(1, 10_000),
  actionTimeoutSeconds: num(1, 86_400),
  namespace: text,
  acceleratorType: text,
};

/** Parses the `pools:` list; throws an Error whose message has one line per bad key. */
export function parsePools(raw: unknown, where = "pools"): PoolPolicy[] {
  if (!Array.isArray(raw)) throw new Error(`${where}: must be a list of pools, got ${JSON.stringify(raw)}`);
  const problems: string[] = [];
  const out: PoolPolicy[] = [];
  const seen = new Set<string>();
  raw.forEach((entry, i) => {
    const at = `${where}[${i}]`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      problems.push(`${at}: must be a mapping with at least model and pool`);
      return;
    }
    const e = entry as Record<string, unknown>;
    const merged: Record<string, unknown> = { ...POOL_DEFAULTS, ...e };
    for (const key of Object.keys(e)) {
      if (!(key in CHECKS))
        problems.push(`${at}.${key}: unknown key (known: ${Object.keys(CHECKS).join(", ")})`);
    }
    let ok = true;
    for (const [key, check] of Object.entries(CHECKS)) {
      const problem = check(merged[key]);
      if (problem) {
        problems.push(`${at}.${key}: ${problem}`);
        ok = false;
      }
    }
    if (!ok) return;
    const p = merged as unknown as PoolPolicy;
    if (p.minReplicas > p.maxReplicas)
      problems.push(`${at}.minReplicas: ${p.minReplicas} is above maxReplicas ${p.maxReplicas}`);
    if (p.fromZeroReplicas > p.maxReplicas)
      problems.push(`${at}.fromZeroReplicas: ${p.fromZeroReplicas} is above maxReplicas ${p.maxReplicas}`);
    if (p.minReplicas === 0 && !p.scaleToZero)
      problems.push(`${at}.minReplicas: 0 needs scaleToZero: true (scale-to-zero is off by default)`);
    const id = `${p.model}/${p.pool}`;
    if (seen.has(id)) problems.push(`${at}: pool "${p.pool}" of model "${p.model}" is listed twice`);
    seen.add(id);
    out.push(p);
  });
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return out;
}

/** The effective policy as YAML-like text (`--validate` prints it). */
export function formatPolicies(pools: readonly PoolPolicy[]): string {
  if (pools.length === 0) return "pools: []   # no pool configured: the autoscaler decides nothing\n";
  const lines = ["pools:"];
  for (const p of pools) {
    let first = true;
    for (const key of Object.keys(CHECKS) as (keyof PoolPolicy)[]) {
      lines.push(`${first ? "  - " : "    "}${key}: ${JSON.stringify(p[key])}`);
      first = false;
    }
  }
  return `${lines.join("\n")}\n`;
}
