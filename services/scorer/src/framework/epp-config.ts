import { parseConfigYaml } from "@inferd/service-kit";
import { ConfigError } from "./errors.ts";

/**
 * llm-d's EndpointPickerConfig (reference B1), parsed but not yet built. Accepts the current
 * `llm-d.ai/v1alpha1` (and `llm-d.ai/v1`, seen on llm-d-router main) and the GAIE-era
 * `inference.networking.x-k8s.io/v1alpha1`.
 */
export const ACCEPTED_API_VERSIONS = [
  "llm-d.ai/v1alpha1",
  "llm-d.ai/v1",
  "inference.networking.x-k8s.io/v1alpha1",
] as const;

export interface PluginSpec {
  readonly name: string;
  readonly type: string;
  readonly parameters: unknown;
}

export interface ProfilePluginRef {
  readonly pluginRef: string;
  /** Undefined when the config gives none (defaults to 1). */
  readonly weight: number | undefined;
}

export interface ProfileSpec {
  readonly name: string;
  readonly plugins: readonly ProfilePluginRef[];
}

export interface SaturationSpec {
  /** Plugin instance or type named by `saturationDetector.pluginRef`. */
  readonly pluginRef: string | undefined;
  /** GAIE-era inline parameters (queueDepthThreshold, kvCacheUtilThreshold, metricsStalenessThreshold). */
  readonly parameters: Record<string, unknown> | undefined;
}

export interface PickerConfigSpec {
  readonly apiVersion: string;
  readonly plugins: readonly PluginSpec[];
  /** Undefined when the config has no schedulingProfiles (one "default" profile is derived). */
  readonly profiles: readonly ProfileSpec[] | undefined;
  readonly saturation: SaturationSpec | undefined;
  readonly warnings: readonly string[];
}

/** Sections llm-d reads that inferd accepts and ignores, with the reason given to the user. */
const IGNORED_SECTIONS: Record<string, string> = {
  featureGates: "feature gates have no effect in inferd",
  flowControl: "flow control (queueing, fairness, priority bands) is done by the inferd gateway",
  dataLayer: "inferd's scorer scrapes /metrics and follows INFERD_ENDPOINTS itself",
  data: "inferd's scorer scrapes /metrics and follows INFERD_ENDPOINTS itself",
  parser: "the inferd gateway parses request bodies",
  parsers: "the inferd gateway parses request bodies",
  requestControl: "request control hooks are fixed in inferd",
};

export function parsePickerConfig(text: string, source = "config"): PickerConfigSpec {
  let doc: unknown;
  try {
    doc = parseConfigYaml(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(`${source}: expected a YAML mapping with apiVersion, kind and plugins`);
  }
  const root = doc as Record<string, unknown>;
  const warnings: string[] = [];

  const apiVersion = root.apiVersion;
  if (typeof apiVersion !== "string" || !(ACCEPTED_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    throw new ConfigError(
      `${source}: apiVersion must be one of ${ACCEPTED_API_VERSIONS.join(", ")}, got ${JSON.stringify(apiVersion)}`,
    );
  }
  if (root.kind !== "EndpointPickerConfig") {
    throw new ConfigError(`${source}: kind must be EndpointPickerConfig, got ${JSON.stringify(root.kind)}`);
  }

  for (const key of Object.keys(root)) {
    if (["apiVersion", "kind", "plugins", "schedulingProfiles", "saturationDetector"].includes(key)) continue;
    const why = IGNORED_SECTIONS[key];
    warnings.push(why ? `section "${key}" ignored: ${why}` : `unknown section "${key}" ignored`);
  }

  const plugins = parsePlugins(root.plugins, source);
  const profiles =
    root.schedulingProfiles === undefined ? undefined : parseProfiles(root.schedulingProfiles, source);
  const saturation = parseSaturation(root.saturationDetector, source);
  return { apiVersion, plugins, profiles, saturation, warnings };
}

function parsePlugins(raw: unknown, source: string): PluginSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ConfigError(`${source}: plugins must be a list`);
  const out: PluginSpec[] = [];
  const names = new Set<string>();
  raw.forEach((entry, i) => {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
      throw new ConfigError(`${source}: plugins[${i}] must be a mapping with a type`);
    }
    const e = entry as Record<string, unknown>;
    if (typeof e.type !== "string" || e.type.length === 0) {
      throw new ConfigError(`${source}: plugins[${i}] has no type`);
    }
    if (e.name !== undefined && (typeof e.name !== "string" || e.name.length === 0)) {
      throw new ConfigError(`${source}: plugins[${i}] (type ${e.type}) has an invalid name`);
    }
    const name = (e.name as string | undefined) ?? e.type;
    if (names.has(name)) {
      throw new ConfigError(
        `${source}: plugin name "${name}" is used twice; give one of them a distinct name`,
      );
    }
    names.add(name);
    for (const key of Object.keys(e)) {
      if (!["type", "name", "parameters"].includes(key)) {
        throw new ConfigError(
          `${source}: plugin "${name}": unexpected key "${key}" (parameters go under "parameters")`,
        );
      }
    }
    out.push({ name, type: e.type, parameters: e.parameters });
  });
  return out;
}

function parseProfiles(raw: unknown, source: string): ProfileSpec[] {
  if (!Array.isArray(raw)) throw new ConfigError(`${source}: schedulingProfiles must be a list`);
  const names = new Set<string>();
  return raw.map((entry, i) => {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
      throw new ConfigError(`${source}: schedulingProfiles[${i}] must be a mapping with name and plugins`);
    }
    const e = entry as Record<string, unknown>;
    if (typeof e.name !== "string" || e.name.length === 0) {
      throw new ConfigError(`${source}: schedulingProfiles[${i}] has no name`);
    }
    if (names.has(e.name))
      throw new ConfigError(`${source}: scheduling profile "${e.name}" is defined twice`);
    names.add(e.name);
    if (!Array.isArray(e.plugins))
      throw new ConfigError(`${source}: scheduling profile "${e.name}": plugins must be a list`);
    const plugins = e.plugins.map((ref, j): ProfilePluginRef => {
      if (
        ref === null ||
        typeof ref !== "object" ||
        typeof (ref as { pluginRef?: unknown }).pluginRef !== "string"
      ) {
        throw new ConfigError(`${source}: scheduling profile "${e.name}": plugins[${j}] needs a pluginRef`);
      }
      const r = ref as { pluginRef: string; weight?: unknown };
      if (
        r.weight !== undefined &&
        (typeof r.weight !== "number" || !Number.isFinite(r.weight) || r.weight < 0)
      ) {
        throw new ConfigError(
          `${source}: scheduling profile "${e.name}": weight of "${r.pluginRef}" must be a number >= 0, got ${JSON.stringify(r.weight)}`,
        );
      }
      return { pluginRef: r.pluginRef, weight: r.weight as number | undefined };
    });
    return { name: e.name, plugins };
  });
}

function parseSaturation(raw: unknown, source: string): SaturationSpec | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(`${source}: saturationDetector must be a mapping`);
  }
  const { pluginRef, ...rest } = raw as Record<string, unknown>;
  if (pluginRef !== undefined && typeof pluginRef !== "string") {
    throw new ConfigError(`${source}: saturationDetector.pluginRef must be a string`);
  }
  return {
    pluginRef: pluginRef as string | undefined,
    parameters: Object.keys(rest).length > 0 ? rest : undefined,
  };
}
