import { readFileSync } from "node:fs";
import { type Field, type FieldValue, isFieldError } from "./fields.ts";
import { parseConfigYaml } from "./yaml.ts";

export type ConfigSpec = Record<string, Field<unknown>>;
export type ConfigOf<S extends ConfigSpec> = { -readonly [K in keyof S]: FieldValue<S[K]> };

/** Every invalid key of a configuration, one line each: `<where>: <reason>`. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(service: string, problems: string[]) {
    super(`invalid ${service} configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface LoadConfigOptions {
  /** Command-line arguments; `--config FILE` names a YAML file. */
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** A YAML file path, used when argv has no --config. */
  configFile?: string;
  /** Values that override the defaults but not the file or the environment (e.g. CLI flags). */
  overrides?: Record<string, unknown>;
  /**
   * Receives one line per deprecated spelling used (e.g. a snake_case YAML key); default: written to
   * stderr. Services log them once their logger exists.
   */
  onWarning?: (line: string) => void;
}

/** `nats_url` / `nats-url` -> `natsUrl`: the one key convention (YAML keys are camelCase). */
export function camelKey(key: string): string {
  return key.replace(/[-_]+([a-zA-Z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * `INFERD_<SERVICE>_<KEY>` in upper snake case: `-`, `.` and camelCase humps become `_`, so the
 * key `natsUrl` and the key `nats_url` both read `INFERD_<SERVICE>_NATS_URL`.
 */
export function envName(service: string, key: string): string {
  return `INFERD_${service}_${key}`
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[-.]/g, "_")
    .toUpperCase();
}

export function configFileFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--config") return argv[i + 1];
    if (arg.startsWith("--config=")) return arg.slice("--config=".length);
  }
  return undefined;
}

/**
 * Loads a service's configuration: defaults < YAML file (`--config`) < environment
 * (`INFERD_<SERVICE>_<KEY>`). Every value is validated; all problems are reported together,
 * one line per key naming where the value came from and why it is wrong.
 */
export function loadConfig<S extends ConfigSpec>(
  service: string,
  spec: S,
  options: LoadConfigOptions = {},
): ConfigOf<S> {
  const env = options.env ?? process.env;
  const file = configFileFromArgv(options.argv ?? []) ?? options.configFile;
  const problems: string[] = [];
  let fileValues: Record<string, unknown> = {};
  if (file) {
    try {
      const parsed = parseConfigYaml(readFileSync(file, "utf8"));
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== "object" || Array.isArray(parsed))
          problems.push(`${file}: must be a YAML mapping of keys`);
        else fileValues = parsed as Record<string, unknown>;
      }
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  const warn = options.onWarning ?? ((line: string) => process.stderr.write(`warning: ${line}\n`));
  for (const key of Object.keys(fileValues)) {
    if (key in spec) continue;
    // The old spelling of a key (kv-index used snake_case) still works for one release, with a warning.
    const current = camelKey(key);
    if (current !== key && current in spec) {
      if (current in fileValues)
        problems.push(`${file}: both "${key}" and "${current}" are set; keep "${current}"`);
      else {
        warn(
          `${file}: key "${key}" is deprecated, use "${current}" (the old spelling goes in the next release)`,
        );
        fileValues[current] = fileValues[key];
      }
      continue;
    }
    problems.push(`${file}: unknown key "${key}" (known: ${Object.keys(spec).join(", ")})`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(spec)) {
    const variable = envName(service, key);
    let value: unknown = field.default;
    const sources: Array<[string, unknown, boolean]> = [];
    if (options.overrides && key in options.overrides && options.overrides[key] !== undefined) {
      sources.push([`--${key}`, options.overrides[key], false]);
    }
    if (key in fileValues) sources.push([`${file}: ${key}`, fileValues[key], false]);
    if (env[variable] !== undefined) sources.push([variable, env[variable], true]);
    for (const [where, raw, fromEnv] of sources) {
      const parsed = field.parse(raw, fromEnv);
      if (isFieldError(parsed)) problems.push(`${where}: ${parsed.error}`);
      else value = parsed;
    }
    out[key] = value;
  }
  if (problems.length > 0) throw new ConfigError(service, problems);
  return out as ConfigOf<S>;
}

/** A markdown table of a spec's keys, for READMEs and --help. */
export function describeConfig(service: string, spec: ConfigSpec): string {
  const rows = Object.entries(spec).map(
    ([key, f]) =>
      `| \`${key}\` | \`${envName(service, key)}\` | \`${JSON.stringify(f.default)}\` | ${f.doc} |`,
  );
  return ["| key | environment | default | meaning |", "|---|---|---|---|", ...rows].join("\n");
}
