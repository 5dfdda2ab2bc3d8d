import { ConfigError } from "./errors.ts";

/**
 * Reads a plugin's `parameters` over defaults. Wrong types and out-of-range values throw a ConfigError
 * naming the plugin; keys the plugin does not know are collected as warnings (llm-d ignores them too,
 * and its example configs carry keys that only matter to its own data layer).
 */
export class Params {
  readonly warnings: string[] = [];
  private readonly raw: Record<string, unknown>;
  private readonly seen = new Set<string>();
  private readonly where: string;

  constructor(type: string, name: string, raw: unknown) {
    this.where = name === type ? `plugin "${name}"` : `plugin "${name}" (type ${type})`;
    if (raw === undefined || raw === null) this.raw = {};
    else if (typeof raw === "object" && !Array.isArray(raw)) this.raw = raw as Record<string, unknown>;
    else throw new ConfigError(`${this.where}: parameters must be a mapping, got ${JSON.stringify(raw)}`);
  }

  keys(): string[] {
    return Object.keys(this.raw);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  number(key: string, def: number, range: { min?: number; max?: number; integer?: boolean } = {}): number {
    this.seen.add(key);
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isFinite(n)) this.fail(key, "a number", v);
    if (range.integer && !Number.isInteger(n)) this.fail(key, "an integer", v);
    if (range.min !== undefined && n < range.min) this.fail(key, `>= ${range.min}`, v);
    if (range.max !== undefined && n > range.max) this.fail(key, `<= ${range.max}`, v);
    return n;
  }

  int(key: string, def: number, range: { min?: number; max?: number } = {}): number {
    return this.number(key, def, { ...range, integer: true });
  }

  bool(key: string, def: boolean): boolean {
    this.seen.add(key);
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== "boolean") this.fail(key, "true or false", v);
    return v;
  }

  string(key: string, def: string): string {
    this.seen.add(key);
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== "string") this.fail(key, "a string", v);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], def: T): T {
    const v = this.string(key, def);
    if (!(allowed as readonly string[]).includes(v)) this.fail(key, `one of ${allowed.join(", ")}`, v);
    return v as T;
  }

  /** A nested mapping, read with its own Params (for keys like `deciders: {prefill: ...}`). */
  object(key: string): Record<string, unknown> {
    this.seen.add(key);
    const v = this.raw[key];
    if (v === undefined || v === null) return {};
    if (typeof v !== "object" || Array.isArray(v)) this.fail(key, "a mapping", v);
    return v as Record<string, unknown>;
  }

  /** Marks keys that are accepted for compatibility but have no effect in inferd. */
  ignore(...keys: string[]): void {
    for (const k of keys) {
      if (this.has(k)) this.warnings.push(`${this.where}: parameter "${k}" has no effect in inferd`);
      this.seen.add(k);
    }
  }

  /** Call after reading every key: records unknown keys as warnings. */
  done(): string[] {
    for (const k of Object.keys(this.raw)) {
      if (!this.seen.has(k)) this.warnings.push(`${this.where}: unknown parameter "${k}" ignored`);
    }
    return this.warnings;
  }

  error(message: string): never {
    throw new ConfigError(`${this.where}: ${message}`);
  }

  private fail(key: string, expected: string, got: unknown): never {
    throw new ConfigError(
      `${this.where}: parameter "${key}" must be ${expected}, got ${JSON.stringify(got)}`,
    );
  }
}
