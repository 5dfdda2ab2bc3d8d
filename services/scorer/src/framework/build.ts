import type { PickerConfigSpec, ProfileSpec } from "./epp-config.ts";
import { ConfigError } from "./errors.ts";
import type { Handle } from "./handle.ts";
import { Params } from "./params.ts";
import {
  type DataKey,
  type DataProducer,
  type Filter,
  isFilter,
  isPicker,
  isPickObserver,
  isProducer,
  isProfileHandler,
  isSaturationDetector,
  isScorer,
  type Picker,
  type Plugin,
  type ProfileHandler,
  type SaturationDetector,
} from "./plugin.ts";
import type { Registry } from "./registry.ts";
import type { SchedulerConfig, SchedulingProfile, WeightedScorer } from "./scheduler.ts";

/** Type names the defaulting rules fall back on (llm-d's, plus inferd's producers). */
export const DEFAULTS = {
  singleProfileHandler: "single-profile-handler",
  picker: "max-score-picker",
  saturationDetector: "utilization-detector",
  producers: { tokens: "token-producer", prefix: "prefix-cache-producer" } satisfies Record<DataKey, string>,
} as const;

export type HandleServices = Omit<Handle, "plugin">;

/**
 * Builds plugins and profiles from a parsed config, applying llm-d's defaulting rules:
 * no schedulingProfiles -> one "default" profile with every filter, scorer and picker; one profile and
 * no handler -> single-profile-handler; no picker in a profile -> max-score-picker; weight -> 1.
 * Unknown types, dangling pluginRefs and bad parameters throw a ConfigError naming the plugin.
 */
export function buildScheduler(
  spec: PickerConfigSpec,
  registry: Registry,
  services: HandleServices,
): SchedulerConfig {
  const warnings = [...spec.warnings];
  const byName = new Map<string, Plugin>();
  const handle: Handle = { ...services, plugin: (name) => byName.get(name) };

  const create = (type: string, name: string, parameters: unknown): Plugin => {
    const params = new Params(type, name, parameters);
    const plugin = registry.create(type, name, params, handle);
    warnings.push(...params.done());
    const alias = registry.get(type)?.aliasOf;
    if (alias)
      warnings.push(`plugin "${name}": type "${type}" is deprecated in llm-d; treated as "${alias}"`);
    return plugin;
  };

  const configured: Plugin[] = [];
  for (const p of spec.plugins) {
    const plugin = create(p.type, p.name, p.parameters);
    byName.set(p.name, plugin);
    configured.push(plugin);
  }
  const implicit = (type: string): Plugin => {
    const existing = configured.find((p) => p.type === type) ?? byName.get(`${type} (default)`);
    if (existing) return existing;
    const plugin = create(type, type, undefined);
    byName.set(byName.has(type) ? `${type} (default)` : type, plugin);
    return plugin;
  };

  const profileSpecs: readonly ProfileSpec[] = spec.profiles ?? [
    {
      name: "default",
      plugins: configured
        .filter((p) => isFilter(p) || isScorer(p) || isPicker(p))
        .map((p) => ({ pluginRef: p.name, weight: undefined })),
    },
  ];
  if (profileSpecs.length === 0)
    throw new ConfigError("schedulingProfiles is empty: define at least one profile");

  const profiles = new Map<string, SchedulingProfile>();
  for (const ps of profileSpecs)
    profiles.set(
      ps.name,
      buildProfile(ps, byName, () => implicit(DEFAULTS.picker)),
    );

  const handlers = configured.filter(isProfileHandler);
  if (handlers.length > 1) {
    throw new ConfigError(
      `only one profile handler may be configured, found ${handlers.map((h) => `"${h.name}"`).join(", ")}`,
    );
  }
  let handler: ProfileHandler;
  if (handlers[0]) handler = handlers[0];
  else if (profiles.size === 1) handler = implicit(DEFAULTS.singleProfileHandler) as ProfileHandler;
  else {
    throw new ConfigError(
      `${profiles.size} scheduling profiles need a profile handler (e.g. disagg-profile-handler); only one profile may go without`,
    );
  }
  handler.validate([...profiles.keys()]);

  const saturation = buildSaturation(spec, byName, configured, create);

  // Producers: those configured, then defaults for any data a plugin needs that nobody provides.
  const inUse = new Set<Plugin>([handler, ...[...profiles.values()].flatMap(profilePlugins)]);
  if (saturation) inUse.add(saturation);
  const producers: DataProducer[] = configured.filter(isProducer);
  for (const key of ["prefix", "tokens"] as const) {
    const needed = [...inUse, ...producers].some((p) => p.requires?.includes(key));
    const provided = producers.some((p) => p.provides?.includes(key));
    if (needed && !provided) {
      const producer = implicit(DEFAULTS.producers[key]);
      if (!isProducer(producer)) throw new Error(`default producer ${producer.type} is not a producer`);
      producers.push(producer);
    }
  }
  // Token producers first: everything else may read the tokens.
  producers.sort((a, b) => rank(a) - rank(b));

  for (const p of configured) {
    if (!inUse.has(p) && !isProducer(p) && !isPdDeciderOrCompat(p)) {
      warnings.push(`plugin "${p.name}" is configured but no scheduling profile uses it`);
    }
  }

  const all = [...new Set<Plugin>([...configured, ...inUse, ...producers])];
  return {
    profiles,
    handler,
    producers,
    observers: all.filter(isPickObserver),
    saturation,
    plugins: all,
    warnings,
  };
}

function rank(p: Plugin): number {
  return p.provides?.includes("tokens") ? 0 : 1;
}

function profilePlugins(p: SchedulingProfile): Plugin[] {
  return [...p.filters, ...p.scorers.map((s) => s.scorer), p.picker];
}

/** Deciders are referenced by handlers, compat plugins by nothing: neither is "unused". */
function isPdDeciderOrCompat(p: Plugin): boolean {
  return (
    typeof (p as { disaggregate?: unknown }).disaggregate === "function" ||
    (p as { compat?: boolean }).compat === true
  );
}

function buildProfile(
  ps: ProfileSpec,
  byName: ReadonlyMap<string, Plugin>,
  defaultPicker: () => Plugin,
): SchedulingProfile {
  const filters: Filter[] = [];
  const scorers: WeightedScorer[] = [];
  let picker: Picker | undefined;
  for (const ref of ps.plugins) {
    const plugin = byName.get(ref.pluginRef);
    if (!plugin) {
      throw new ConfigError(
        `scheduling profile "${ps.name}": pluginRef "${ref.pluginRef}" names no plugin in the plugins list`,
      );
    }
    let used = false;
    if (isFilter(plugin)) {
      filters.push(plugin);
      used = true;
    }
    if (isScorer(plugin)) {
      scorers.push({ scorer: plugin, weight: ref.weight ?? 1 });
      used = true;
    }
    if (isPicker(plugin)) {
      if (picker) {
        throw new ConfigError(
          `scheduling profile "${ps.name}": two pickers ("${picker.name}" and "${plugin.name}"); use one`,
        );
      }
      picker = plugin;
      used = true;
    }
    if (!used) {
      throw new ConfigError(
        `scheduling profile "${ps.name}": plugin "${plugin.name}" (type ${plugin.type}) is not a filter, scorer or picker`,
      );
    }
    if (ref.weight !== undefined && !isScorer(plugin)) {
      throw new ConfigError(
        `scheduling profile "${ps.name}": weight given for "${plugin.name}", which is not a scorer`,
      );
    }
  }
  const chosen = picker ?? defaultPicker();
  if (!isPicker(chosen)) throw new Error("default picker is not a picker");
  return { name: ps.name, filters, scorers, picker: chosen };
}

function buildSaturation(
  spec: PickerConfigSpec,
  byName: ReadonlyMap<string, Plugin>,
  configured: readonly Plugin[],
  create: (type: string, name: string, parameters: unknown) => Plugin,
): SaturationDetector | undefined {
  const s = spec.saturation;
  let detector: Plugin | undefined;
  if (s?.pluginRef) {
    detector = byName.get(s.pluginRef) ?? create(s.pluginRef, s.pluginRef, s.parameters);
  } else if (s?.parameters) {
    detector = create(DEFAULTS.saturationDetector, DEFAULTS.saturationDetector, s.parameters);
  } else {
    detector =
      configured.find(isSaturationDetector) ??
      create(DEFAULTS.saturationDetector, DEFAULTS.saturationDetector, undefined);
  }
  if (!isSaturationDetector(detector)) {
    throw new ConfigError(
      `saturationDetector: plugin "${detector.name}" (type ${detector.type}) is not a saturation detector`,
    );
  }
  return detector;
}

/** Human-readable summary for `inferd scorer --validate`. */
export function describeScheduler(config: SchedulerConfig, header: string): string {
  const lines = [header];
  const label = (p: Plugin): string => (p.name === p.type ? p.name : `${p.name} (${p.type})`);
  lines.push(`profile handler: ${label(config.handler)}`);
  if (config.producers.length > 0) lines.push(`data producers: ${config.producers.map(label).join(", ")}`);
  for (const profile of config.profiles.values()) {
    lines.push(`profile "${profile.name}":`);
    for (const f of profile.filters) lines.push(`  filter  ${label(f)}`);
    for (const s of profile.scorers) lines.push(`  scorer  ${label(s.scorer)}  weight ${s.weight}`);
    lines.push(`  picker  ${label(profile.picker)}`);
  }
  if (config.saturation) lines.push(`saturation detector: ${label(config.saturation)}`);
  for (const w of config.warnings) lines.push(`warning: ${w}`);
  return `${lines.join("\n")}\n`;
}
