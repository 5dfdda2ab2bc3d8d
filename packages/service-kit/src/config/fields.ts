/**
 * Typed config field builders. Each field parses a raw value (a YAML value or an environment
 * string) into its type, or returns the reason it cannot, which ConfigError reports per key.
 */
export interface Field<T> {
  readonly default: T;
  readonly doc: string;
  /** Returns the parsed value, or `{ error }` with a reason a person can act on. */
  parse(raw: unknown, fromEnv: boolean): T | { error: string };
}

export type FieldValue<F> = F extends Field<infer T> ? T : never;

function isError(v: unknown): v is { error: string } {
  return typeof v === "object" && v !== null && "error" in v && Object.keys(v).length === 1;
}

export { isError as isFieldError };

const show = (raw: unknown) => JSON.stringify(raw);

export function str(opts: {
  default: string;
  doc?: string;
  pattern?: RegExp;
  nonEmpty?: boolean;
}): Field<string> {
  return {
    default: opts.default,
    doc: opts.doc ?? "",
    parse(raw) {
      if (typeof raw !== "string") return { error: `must be a string, got ${show(raw)}` };
      if (opts.nonEmpty && raw.length === 0) return { error: "must not be empty" };
      if (opts.pattern && !opts.pattern.test(raw))
        return { error: `must match ${opts.pattern}, got ${show(raw)}` };
      return raw;
    },
  };
}

function numberField(
  integer: boolean,
  opts: { default: number; doc?: string; min?: number; max?: number },
): Field<number> {
  const kind = integer ? "an integer" : "a number";
  const range =
    opts.min !== undefined && opts.max !== undefined
      ? ` between ${opts.min} and ${opts.max}`
      : opts.min !== undefined
        ? ` >= ${opts.min}`
        : opts.max !== undefined
          ? ` <= ${opts.max}`
          : "";
  return {
    default: opts.default,
    doc: opts.doc ?? "",
    parse(raw) {
      const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
      const ok =
        typeof n === "number" &&
        Number.isFinite(n) &&
        (!integer || Number.isInteger(n)) &&
        (opts.min === undefined || n >= opts.min) &&
        (opts.max === undefined || n <= opts.max);
      return ok ? (n as number) : { error: `must be ${kind}${range}, got ${show(raw)}` };
    },
  };
}

export const int = (opts: { default: number; doc?: string; min?: number; max?: number }) =>
  numberField(true, opts);
export const num = (opts: { default: number; doc?: string; min?: number; max?: number }) =>
  numberField(false, opts);

export function bool(opts: { default: boolean; doc?: string }): Field<boolean> {
  return {
    default: opts.default,
    doc: opts.doc ?? "",
    parse(raw) {
      if (typeof raw === "boolean") return raw;
      if (typeof raw === "string" && /^(true|1|yes|on)$/i.test(raw)) return true;
      if (typeof raw === "string" && /^(false|0|no|off)$/i.test(raw)) return false;
      return { error: `must be true or false, got ${show(raw)}` };
    },
  };
}

export function oneOf<const V extends string>(
  values: readonly V[],
  opts: { default: V; doc?: string },
): Field<V> {
  return {
    default: opts.default,
    doc: opts.doc ?? "",
    parse(raw) {
      return typeof raw === "string" && (values as readonly string[]).includes(raw)
        ? (raw as V)
        : { error: `must be one of ${values.join(", ")}, got ${show(raw)}` };
    },
  };
}

/** A list of strings: a YAML sequence, or a comma-separated environment value. */
export function list(opts: { default: string[]; doc?: string }): Field<string[]> {
  return {
    default: opts.default,
    doc: opts.doc ?? "",
    parse(raw, fromEnv) {
      if (fromEnv && typeof raw === "string") {
        return raw
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
      }
      if (Array.isArray(raw) && raw.every((x) => typeof x === "string")) return raw as string[];
      return { error: `must be a list of strings, got ${show(raw)}` };
    },
  };
}

/**
 * A structured value (YAML mapping/sequence, or JSON text in the environment), checked by
 * `validate`, which returns the typed value or throws an Error whose message is the reason.
 */
export function json<T>(opts: { default: T; doc?: string; validate: (value: unknown) => T }): Field<T> {
  return {
    default: opts.default,
    doc: opts.doc ?? "",
    parse(raw, fromEnv) {
      let value = raw;
      if (fromEnv && typeof raw === "string") {
        try {
          value = JSON.parse(raw);
        } catch (err) {
          return { error: `must be JSON: ${(err as Error).message}` };
        }
      }
      try {
        return opts.validate(value);
      } catch (err) {
        return { error: (err as Error).message };
      }
    },
  };
}
