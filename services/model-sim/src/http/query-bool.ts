import { HttpError } from "./errors.ts";

const TRUE = new Set(["1", "on", "t", "true", "y", "yes"]);
const FALSE = new Set(["0", "off", "f", "false", "n", "no"]);

/**
 * A boolean query parameter read as vLLM's FastAPI routes read one (pydantic's lax bool: true/false,
 * 1/0, yes/no, on/off, t/f, y/n, any case); absent = `fallback`, anything else a 400 naming it.
 */
export function queryBool(query: unknown, key: string, fallback: boolean): boolean {
  const raw = (query as Record<string, unknown> | undefined)?.[key];
  if (raw === undefined) return fallback;
  const v = typeof raw === "string" ? raw.toLowerCase() : "";
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new HttpError(400, `${key} must be a boolean.`, undefined, key);
}
