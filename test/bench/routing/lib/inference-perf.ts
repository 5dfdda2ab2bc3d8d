import { parse } from "yaml";
import type { ApiKind, Stage, WorkloadSpec } from "./options.ts";

/** What an inference-perf config contributes (every field optional; command-line flags win). */
export interface InferencePerfImport {
  readonly workload: Partial<WorkloadSpec>;
  readonly ladder: readonly Stage[] | null;
  readonly arrivals: "poisson" | "constant" | null;
  readonly api: ApiKind | null;
  readonly model: string | null;
  /** Keys present in the file that this benchmark does not implement (reported, not fatal). */
  readonly ignored: readonly string[];
}

export class ConfigError extends Error {}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new ConfigError(`${where}: expected a mapping`);
  return v as Record<string, unknown>;
}

function posInt(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
    throw new ConfigError(`${where}: expected a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function posNum(v: unknown, where: string): number {
  if (typeof v !== "number" || !(v > 0))
    throw new ConfigError(`${where}: expected a positive number, got ${JSON.stringify(v)}`);
  return v;
}

const SHARED_PREFIX_KEYS: Record<string, keyof WorkloadSpec> = {
  num_groups: "numGroups",
  num_prompts_per_group: "numPromptsPerGroup",
  system_prompt_len: "systemPromptLen",
  question_len: "questionLen",
  output_len: "outputLen",
};

/**
 * Reads the parts of a kubernetes-sigs/inference-perf config this benchmark supports:
 * `data.type: shared_prefix` (num_groups, num_prompts_per_group, system_prompt_len, question_len,
 * output_len, enable_multi_turn_chat), `load.type: poisson | constant` with `stages: [{rate, duration}]`,
 * `api.type: completion | chat`, `server.model_name`. Anything else is listed in `ignored`.
 */
export function importInferencePerf(yamlText: string): InferencePerfImport {
  let doc: unknown;
  try {
    doc = parse(yamlText);
  } catch (err) {
    throw new ConfigError(`not valid YAML: ${(err as Error).message}`);
  }
  const root = obj(doc, "config");
  const ignored: string[] = [];
  const known = new Set(["data", "load", "api", "server", "tokenizer", "report", "metrics", "storage"]);
  for (const k of Object.keys(root)) if (!known.has(k)) ignored.push(k);

  const workload: Partial<Record<keyof WorkloadSpec, unknown>> = {};
  const data = obj(root.data, "data");
  if (data.type !== undefined && data.type !== "shared_prefix")
    throw new ConfigError(`data.type: only shared_prefix is supported, got ${JSON.stringify(data.type)}`);
  const sp = obj(data.shared_prefix, "data.shared_prefix");
  for (const [k, v] of Object.entries(sp)) {
    const field = SHARED_PREFIX_KEYS[k];
    if (field) workload[field] = posInt(v, `data.shared_prefix.${k}`);
    else if (k === "enable_multi_turn_chat") {
      if (v === true) workload.kind = "multi-turn";
    } else ignored.push(`data.shared_prefix.${k}`);
  }

  let ladder: Stage[] | null = null;
  let arrivals: "poisson" | "constant" | null = null;
  const load = obj(root.load, "load");
  if (load.type !== undefined) {
    if (load.type !== "poisson" && load.type !== "constant")
      throw new ConfigError(
        `load.type: only poisson and constant are supported, got ${JSON.stringify(load.type)}`,
      );
    arrivals = load.type;
  }
  if (load.sweep !== undefined) throw new ConfigError("load.sweep is not supported; list the stages instead");
  if (load.stages !== undefined) {
    if (!Array.isArray(load.stages) || load.stages.length === 0)
      throw new ConfigError("load.stages: expected a non-empty list");
    ladder = load.stages.map((s, i) => {
      const st = obj(s, `load.stages[${i}]`);
      return {
        rate: posNum(st.rate, `load.stages[${i}].rate`),
        duration: posNum(st.duration, `load.stages[${i}].duration`),
      };
    });
  }
  for (const k of Object.keys(load)) if (!["type", "stages", "sweep"].includes(k)) ignored.push(`load.${k}`);

  let api: ApiKind | null = null;
  const apiCfg = obj(root.api, "api");
  if (apiCfg.type !== undefined) {
    if (apiCfg.type !== "completion" && apiCfg.type !== "chat")
      throw new ConfigError(`api.type: expected completion or chat, got ${JSON.stringify(apiCfg.type)}`);
    api = apiCfg.type;
  }
  if (apiCfg.streaming === false) ignored.push("api.streaming=false (this benchmark always streams)");

  const server = obj(root.server, "server");
  const modelName =
    typeof server.model_name === "string" && !server.model_name.startsWith("REPLACE_ENV")
      ? server.model_name
      : null;
  if (server.ignore_eos === false)
    ignored.push("server.ignore_eos=false (this benchmark always sets ignore_eos)");
  return { workload: workload as Partial<WorkloadSpec>, ladder, arrivals, api, model: modelName, ignored };
}
