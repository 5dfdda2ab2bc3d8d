import type { RulesFor } from "@inferd/block-index";
import { parseVllmVersion, type VllmRules, vllmRules } from "@inferd/kv-blocks";

/**
 * The vLLM version of each model pool (config `vllmVersions` for that model, else the version
 * its servers report on GET /version, else `vllmVersion`): it picks the rules that derive a block's extra keys when an event does not
 * carry them (vLLM < 0.17) and when a lookup builds request keys from a prompt (LoRA int id in
 * 0.11; bare MM identifiers up to 0.18, `(identifier, offset)` after). Event form and replay
 * frames need no setting: both are recognised on the wire for every version.
 */
export type { RulesFor };

export function rulesByModel(defaultVersion: string, perModel: Readonly<Record<string, string>>): RulesFor {
  return new VllmVersions(defaultVersion, perModel).rulesFor;
}

/** Configured versions plus what the servers report; configured per-model versions win. */
export class VllmVersions {
  readonly #fallback: VllmRules;
  readonly #configured: Map<string, VllmRules>;
  readonly #detected = new Map<string, VllmRules>();

  constructor(defaultVersion: string, perModel: Readonly<Record<string, string>> = {}) {
    this.#fallback = vllmRules(defaultVersion);
    this.#configured = new Map(Object.entries(perModel).map(([m, v]) => [m, vllmRules(v)]));
  }

  readonly rulesFor: RulesFor = (model) =>
    this.#configured.get(model) ?? this.#detected.get(model) ?? this.#fallback;

  /** Whether a server of `model` has reported its version. */
  detected(model: string): boolean {
    return this.#detected.has(model);
  }

  /** Records the version a server of `model` reported; returns the rules now in force for the model. */
  learn(model: string, version: string): VllmRules {
    if (!this.#configured.has(model)) this.#detected.set(model, vllmRules(version));
    return this.rulesFor(model);
  }
}

/**
 * vLLM's GET /version of a server (`{"version": "0.34.0"}`), via the fetch built into Node
 * (undici). Throws on an HTTP error, a timeout or a body without a version.
 */
export async function fetchVllmVersion(baseUrl: string, timeoutMs = 2_000): Promise<string> {
  const res = await fetch(new URL("/version", baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${baseUrl}/version: HTTP ${res.status}`);
  const body = (await res.json()) as { version?: unknown };
  if (typeof body.version !== "string") throw new Error(`GET ${baseUrl}/version: no version in the body`);
  return validVllmVersion(body.version);
}

/** Config validator: a vLLM version string such as "0.34.0". */
export function validVllmVersion(v: string): string {
  const p = parseVllmVersion(v);
  return `${p.major}.${p.minor}.${p.patch}`;
}
