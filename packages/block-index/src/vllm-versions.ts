import { DEFAULT_VLLM_VERSION, parseVllmVersion, type VllmRules, vllmRules } from "@inferd/kv-blocks";
import { bool, json, str } from "@inferd/service-kit";
import type { RulesFor } from "./plan.ts";

/**
 * The vLLM version of each model pool (config `vllmVersions` for that model, else the version
 * its servers report on GET /version, else `vllmVersion`): it picks the rules that derive a block's extra keys when an event does not
 * carry them (vLLM < 0.17) and when a lookup builds request keys from a prompt (LoRA int id in
 * 0.11; bare MM identifiers up to 0.18, `(identifier, offset)` after). Event form and replay
 * frames need no setting: both are recognised on the wire for every version.
 */
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

/**
 * The vLLM-version keys of every service that indexes KV events (kv-index, and the scorer's index
 * replica, which must derive the same request keys): one definition, so a model pinned to a version
 * for kv-index is pinned the same way for the replica.
 */
export function vllmVersionFields() {
  return {
    vllmVersion: str({
      default: DEFAULT_VLLM_VERSION,
      doc: "vLLM version of the engines (extra-key rules for events without extra_keys and for lookups)",
      pattern: /^v?\d+\.\d+(\.\d+)?/,
    }),
    vllmVersionDetect: bool({
      default: true,
      doc: "Ask each inventory endpoint's GET /version and use it for its model (vllmVersions wins)",
    }),
    vllmVersions: json<Record<string, string>>({
      default: {},
      doc: 'Per model pool, overriding vllmVersion, e.g. {"Qwen/Qwen3-32B":"0.30.0"}',
      validate: (v) => {
        if (typeof v !== "object" || v === null || Array.isArray(v))
          throw new Error("must be an object of model -> version");
        return Object.fromEntries(
          Object.entries(v).map(([m, ver]) => {
            if (typeof ver !== "string") throw new Error(`${m}: version must be a string`);
            return [m, validVllmVersion(ver)];
          }),
        );
      },
    }),
  };
}

/** The versions the keys of `vllmVersionFields` configure (detection adds to them at run time). */
export function vllmVersionsOf(c: {
  vllmVersion: string;
  vllmVersions: Record<string, string>;
}): VllmVersions {
  return new VllmVersions(c.vllmVersion, c.vllmVersions);
}

/**
 * Asks a server of `model` for its version (when its model has no configured version and none was
 * detected yet) and records it; resolves to the rules then in force, or rejects with why not.
 */
export async function detectVllmVersion(
  versions: VllmVersions,
  model: string,
  address: string,
  timeoutMs = 2_000,
): Promise<{ reported: string; rules: VllmRules }> {
  const reported = await fetchVllmVersion(address, timeoutMs);
  return { reported, rules: versions.learn(model, reported) };
}
