/** What the deployer manages: named pools of one model, with replica bounds from its config. */
export interface PoolSpec {
  readonly name: string;
  readonly model: string;
  /** Replicas when the deployer starts the pool (local driver); kept within min..max. */
  readonly replicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Kubernetes workload that backs the pool (ignored by the local driver). */
  readonly kind: "Deployment" | "LeaderWorkerSet";
  /** Extra command-line arguments for this pool's servers (local driver). */
  readonly args: readonly string[];
}

/** Keeps a requested replica count inside the pool's bounds. */
export function clampReplicas(desired: number, pool: Pick<PoolSpec, "minReplicas" | "maxReplicas">): number {
  return Math.min(pool.maxReplicas, Math.max(pool.minReplicas, Math.round(desired)));
}

const POOL_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function integer(raw: unknown, what: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 0)
    throw new Error(`${what} must be an integer >= 0, got ${JSON.stringify(raw)}`);
  return raw;
}

/** Validates the `pools` config value (a YAML list, or JSON in the environment). */
export function parsePools(raw: unknown): PoolSpec[] {
  if (!Array.isArray(raw)) throw new Error("must be a list of pools");
  const seen = new Set<string>();
  return raw.map((entry, i) => {
    const where = `pools[${i}]`;
    if (typeof entry !== "object" || entry === null) throw new Error(`${where} must be a mapping`);
    const e = entry as Record<string, unknown>;
    const name = e.name;
    if (typeof name !== "string" || !POOL_NAME.test(name))
      throw new Error(`${where}.name must be a DNS label (a-z, 0-9, -), got ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new Error(`${where}.name "${name}" is used twice`);
    seen.add(name);
    if (typeof e.model !== "string" || e.model === "") throw new Error(`${where}.model must be a model name`);
    const minReplicas = integer(e.minReplicas, `${where}.minReplicas`, 0);
    const maxReplicas = integer(e.maxReplicas, `${where}.maxReplicas`, 16);
    if (maxReplicas < minReplicas) throw new Error(`${where}: maxReplicas < minReplicas`);
    const replicas = integer(e.replicas, `${where}.replicas`, Math.max(1, minReplicas));
    const kind = e.kind ?? "Deployment";
    if (kind !== "Deployment" && kind !== "LeaderWorkerSet")
      throw new Error(`${where}.kind must be Deployment or LeaderWorkerSet`);
    const args = e.args ?? [];
    if (!Array.isArray(args) || !args.every((a) => typeof a === "string"))
      throw new Error(`${where}.args must be a list of strings`);
    return {
      name,
      model: e.model,
      replicas: clampReplicas(replicas, { minReplicas, maxReplicas }),
      minReplicas,
      maxReplicas,
      kind,
      args,
    };
  });
}
