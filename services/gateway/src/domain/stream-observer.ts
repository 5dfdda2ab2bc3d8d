/**
 * Watches an OpenAI SSE stream as it passes through: time of the first token, gaps between
 * chunks (ITL), the usage object of the final chunk, and whether the usage-only chunk must be
 * hidden from a client that did not ask for it. Pure: the clock is passed in.
 *
 * Decision (documented in the README): the gateway always asks the model server for usage
 * (`stream_options.include_usage: true`) so that token counts are exact; when the client did
 * not ask, the final usage-only chunk (`choices: []`) is dropped, and every other chunk is
 * forwarded byte for byte (they may carry `"usage": null`, which the OpenAI schema allows).
 */

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
}

export interface ItlSummary {
  mean: number;
  p90: number;
  max: number;
  count: number;
}

/** Reads an OpenAI `usage` object; undefined when absent or malformed. */
export function readUsage(u: unknown): Usage | undefined {
  if (typeof u !== "object" || u === null) return undefined;
  const o = u as Record<string, unknown>;
  // Counts go into uint32 RequestEvent fields: a model server's absurd figure is capped, not
  // allowed to make the event unencodable.
  const num = (v: unknown) =>
    typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.min(Math.floor(v), 4294967295) : 0;
  const details = o.prompt_tokens_details as Record<string, unknown> | null | undefined;
  return {
    promptTokens: num(o.prompt_tokens),
    completionTokens: num(o.completion_tokens),
    cachedTokens: num(details?.cached_tokens),
  };
}

/**
 * The `usage` object of a whole JSON response, read without parsing the (possibly long)
 * completion text: the last `"usage":{...}` is cut out by brace matching and parsed alone.
 */
export function usageFromJsonText(text: string): Usage | undefined {
  const key = text.lastIndexOf('"usage"');
  if (key < 0) return undefined;
  const open = text.indexOf("{", key);
  if (open < 0 || text.slice(key + 7, open).trim() !== ":") return undefined;
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) {
      try {
        return readUsage(JSON.parse(text.slice(open, i + 1)));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Mean, 90th percentile (nearest rank) and max of gaps in seconds. */
export function summarise(gaps: readonly number[]): ItlSummary {
  if (gaps.length === 0) return { mean: 0, p90: 0, max: 0, count: 0 };
  const sorted = [...gaps].sort((a, b) => a - b);
  const sum = sorted.reduce((s, g) => s + g, 0);
  const rank = Math.max(0, Math.ceil(0.9 * sorted.length) - 1);
  return {
    mean: sum / sorted.length,
    p90: sorted[rank]!,
    max: sorted[sorted.length - 1]!,
    count: sorted.length,
  };
}

const USAGE_OBJECT = /"usage"\s*:\s*\{/;
/**
 * A chat delta that only announces the role (`{"role":"assistant","content":""}`): servers may
 * send it before the first token is computed, so it does not start TTFT.
 */
const ROLE_ONLY_DELTA = /"delta"\s*:\s*\{\s*"role"\s*:\s*"[a-z]+"\s*(,\s*"content"\s*:\s*(""|null)\s*)?\}/;

export type Verdict = "forward" | "drop";

export class StreamObserver {
  readonly #stripUsageChunk: boolean;
  /** Time (ms) of the first chunk carrying output; undefined until then. */
  firstTokenAt: number | undefined;
  #lastTokenAt = 0;
  readonly gaps: number[] = [];
  usage: Usage | undefined;
  done = false;
  /** Error object sent by the model server inside the stream, if any. */
  upstreamError: string | undefined;

  constructor(options: { stripUsageChunk: boolean }) {
    this.#stripUsageChunk = options.stripUsageChunk;
  }

  /** Looks at one event's data (arrived at `now` ms) and says whether to pass it on. */
  onData(data: string | undefined, now: number): Verdict {
    if (data === undefined) return "forward";
    if (data === "[DONE]") {
      this.done = true;
      return "forward";
    }
    let usageOnly = false;
    // includes() first: a native substring search, where the regex would walk every token chunk.
    if ((data.includes('"usage"') && USAGE_OBJECT.test(data)) || data.includes('"error"')) {
      try {
        const obj = JSON.parse(data) as { usage?: unknown; choices?: unknown[]; error?: unknown };
        const u = readUsage(obj.usage);
        if (u !== undefined) this.usage = u;
        if (obj.error !== undefined) this.upstreamError = JSON.stringify(obj.error);
        usageOnly = u !== undefined && Array.isArray(obj.choices) && obj.choices.length === 0;
      } catch {
        // Not JSON: treat as an ordinary chunk.
      }
    }
    if (usageOnly) return this.#stripUsageChunk ? "drop" : "forward";
    if (this.firstTokenAt === undefined && ROLE_ONLY_DELTA.test(data)) return "forward";
    if (this.firstTokenAt === undefined) this.firstTokenAt = now;
    else this.gaps.push((now - this.#lastTokenAt) / 1000);
    this.#lastTokenAt = now;
    return "forward";
  }

  itl(): ItlSummary {
    return summarise(this.gaps);
  }
}
