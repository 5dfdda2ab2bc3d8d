/**
 * The endpoint inventory as the gateway needs it: which models and LoRA adapters exist (for
 * /v1/models and "unknown model" errors), which endpoints are ready for a model (for FailOpen),
 * and a least-loaded order over the gateway's own in-flight counts. Pure: no I/O.
 */

export type Role = "both" | "prefill" | "decode";

export interface InventoryEndpoint {
  model: string;
  pod: string;
  /** Base URL, e.g. http://127.0.0.1:8000. */
  address: string;
  role: Role;
  loraAdapters: readonly string[];
  ready: boolean;
  pool: string;
}

export interface ModelCard {
  id: string;
  /** Base model for an adapter, undefined for a base model. */
  parent: string | undefined;
}

/** How the requested name resolves: the base model and the adapter (if any). */
export interface ModelTarget {
  model: string;
  baseModel: string;
  adapter: string | undefined;
}

function key(model: string, pod: string): string {
  return `${model}\u0000${pod}`;
}

export class Inventory {
  readonly #endpoints = new Map<string, InventoryEndpoint>();
  /** Models named in configuration (known even while no endpoint exists: a pool at zero). */
  readonly #configured = new Set<string>();
  #version = 0;

  constructor(configuredModels: Iterable<string> = []) {
    for (const m of configuredModels) this.#configured.add(m);
  }

  /** Bumped on every change; lets callers cache derived views. */
  get version(): number {
    return this.#version;
  }

  upsert(ep: InventoryEndpoint): void {
    this.#endpoints.set(key(ep.model, ep.pod), ep);
    this.#version++;
  }

  remove(model: string, pod: string): void {
    if (this.#endpoints.delete(key(model, pod))) this.#version++;
  }

  /** Replaces the whole set (a fresh snapshot of the bucket or the static list). */
  replaceAll(eps: Iterable<InventoryEndpoint>): void {
    this.#endpoints.clear();
    for (const ep of eps) this.#endpoints.set(key(ep.model, ep.pod), ep);
    this.#version++;
  }

  all(): InventoryEndpoint[] {
    return [...this.#endpoints.values()];
  }

  /**
   * Resolves a requested model name: a base model (configured or with any endpoint, ready or
   * not) or a LoRA adapter listed by an endpoint. Undefined when nobody knows the name.
   */
  resolve(name: string): ModelTarget | undefined {
    let adapterBase: string | undefined;
    for (const ep of this.#endpoints.values()) {
      if (ep.model === name) return { model: name, baseModel: name, adapter: undefined };
      if (adapterBase === undefined && ep.loraAdapters.includes(name)) adapterBase = ep.model;
    }
    if (adapterBase !== undefined) return { model: name, baseModel: adapterBase, adapter: name };
    if (this.#configured.has(name)) return { model: name, baseModel: name, adapter: undefined };
    return undefined;
  }

  /** Every model and adapter, sorted by id, adapters after their base model. */
  models(): ModelCard[] {
    const bases = new Set<string>(this.#configured);
    const adapters = new Map<string, string>();
    for (const ep of this.#endpoints.values()) {
      bases.add(ep.model);
      for (const a of ep.loraAdapters) if (!adapters.has(a)) adapters.set(a, ep.model);
    }
    const cards: ModelCard[] = [];
    for (const base of [...bases].sort()) {
      cards.push({ id: base, parent: undefined });
      for (const [a, parent] of [...adapters].sort(([x], [y]) => (x < y ? -1 : 1))) {
        if (parent === base && !bases.has(a)) cards.push({ id: a, parent });
      }
    }
    return cards;
  }

  /**
   * Ready endpoints that can serve the whole request for a target (role both or decode; with
   * the adapter when one is asked for).
   */
  candidates(target: ModelTarget): InventoryEndpoint[] {
    const out: InventoryEndpoint[] = [];
    for (const ep of this.#endpoints.values()) {
      if (!ep.ready || ep.model !== target.baseModel || ep.role === "prefill") continue;
      if (target.adapter !== undefined && !ep.loraAdapters.includes(target.adapter)) continue;
      out.push(ep);
    }
    return out;
  }
}

/**
 * Orders endpoints by the gateway's own in-flight count, least loaded first. Ties are broken by
 * a rotating offset so equal endpoints share the traffic instead of the first one taking all.
 */
export function leastLoaded(
  eps: readonly InventoryEndpoint[],
  inFlight: (pod: string) => number,
  tieBreak: number,
): InventoryEndpoint[] {
  const n = eps.length;
  const rotated = eps.map((ep, i) => ({ ep, load: inFlight(ep.pod), rank: (((i - tieBreak) % n) + n) % n }));
  rotated.sort((a, b) => a.load - b.load || a.rank - b.rank);
  return rotated.map((r) => r.ep);
}
