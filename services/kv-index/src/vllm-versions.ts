import { parseVllmVersion, type VllmRules, vllmRules } from "@inferd/kv-blocks";

/**
 * The vLLM version of each model pool (config `vllm_version`, overridden per model by
 * `vllm_versions`): it picks the rules that derive a block's extra keys when an event does not
 * carry them (vLLM < 0.17) and when a lookup builds request keys from a prompt (LoRA int id in
 * 0.11; bare MM identifiers up to 0.18, `(identifier, offset)` after). Event form and replay
 * frames need no setting: both are recognised on the wire for every version.
 */
export type RulesFor = (model: string) => VllmRules;

export function rulesByModel(defaultVersion: string, perModel: Readonly<Record<string, string>>): RulesFor {
  const fallback = vllmRules(defaultVersion);
  const byModel = new Map(Object.entries(perModel).map(([m, v]) => [m, vllmRules(v)]));
  return (model) => byModel.get(model) ?? fallback;
}

/** Config validator: a vLLM version string such as "0.34.0". */
export function validVllmVersion(v: string): string {
  const p = parseVllmVersion(v);
  return `${p.major}.${p.minor}.${p.patch}`;
}
