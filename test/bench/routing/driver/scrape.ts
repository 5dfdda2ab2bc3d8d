import { request } from "undici";
import { EMPTY_HISTOGRAM, parseHistogram, subHistogram } from "../lib/histogram.ts";
import { pick, sumSamples } from "../lib/prom.ts";
import {
  addCounters,
  PICK_TIMINGS,
  type PickTiming,
  type RouterCounters,
  type ServerCounters,
  ZERO_COUNTERS,
} from "../lib/results.ts";

/** Where each pick-path timing is read: the gateway's or the scorer's /metrics, and the histogram. */
const TIMING_SOURCES: Readonly<Record<PickTiming, readonly ["gateway" | "scorer", string]>> = {
  added: ["gateway", "inferd_gateway_added_latency_seconds"],
  gatewayPick: ["gateway", "inferd_gateway_pick_duration_seconds"],
  scorerPick: ["scorer", "inferd_scorer_pick_duration_seconds"],
  tokenize: ["scorer", "inferd_scorer_tokenize_duration_seconds"],
};

/** The pick-path histograms from the gateway's and the scorer's /metrics text. */
export function timingsFromText(gateway: string, scorer: string): RouterCounters["timings"] {
  const texts = { gateway, scorer };
  return Object.fromEntries(
    PICK_TIMINGS.map((t) => {
      const [where, name] = TIMING_SOURCES[t];
      return [t, parseHistogram(texts[where], name)];
    }),
  ) as RouterCounters["timings"];
}

/** Reads one server's vLLM counters from its /metrics (null when a counter is missing: unknown, not 0). */
export function countersFromText(text: string): ServerCounters | null {
  const s = sumSamples(text);
  const hits = pick(
    s,
    "vllm:prefix_cache_hits_total",
    "vllm:prefix_cache_hits",
    "vllm:gpu_prefix_cache_hits_total",
  );
  const queries = pick(
    s,
    "vllm:prefix_cache_queries_total",
    "vllm:prefix_cache_queries",
    "vllm:gpu_prefix_cache_queries_total",
  );
  if (hits === null || queries === null) return null;
  return {
    prefixHits: hits,
    prefixQueries: queries,
    preemptions: pick(s, "vllm:num_preemptions_total", "vllm:num_preemptions") ?? 0,
    promptTokens: pick(s, "vllm:prompt_tokens_total", "vllm:prompt_tokens") ?? 0,
    generationTokens: pick(s, "vllm:generation_tokens_total", "vllm:generation_tokens") ?? 0,
  };
}

/** Fleet totals (sum over servers); null if any server could not be read. */
export async function scrapeFleet(addresses: readonly string[]): Promise<ServerCounters | null> {
  const all = await Promise.all(
    addresses.map(async (a) => {
      try {
        const res = await request(`${a}/metrics`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
        const text = await res.body.text();
        return res.statusCode === 200 ? countersFromText(text) : null;
      } catch {
        return null;
      }
    }),
  );
  if (all.some((c) => c === null)) return null;
  return all.reduce<ServerCounters>((acc, c) => addCounters(acc, c!), ZERO_COUNTERS);
}

async function metricsText(url: string): Promise<string | null> {
  try {
    const res = await request(`${url}/metrics`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    return res.statusCode === 200 ? text : null;
  } catch {
    return null;
  }
}

/**
 * Gateway and scorer counters (a counter with no sample yet is 0: prom-client prints labelled
 * series only once used). Null when either service cannot be read. `scorer` is the scorer's base
 * URL, "gateway" when the scorer is embedded in the gateway (its metrics are on the gateway's
 * /metrics), or undefined (no scorer).
 */
export async function scrapeRouter(
  gateway: string,
  scorer: string | "gateway" | undefined,
): Promise<RouterCounters | null> {
  const [g, own] = await Promise.all([
    metricsText(gateway),
    scorer && scorer !== "gateway" ? metricsText(scorer) : Promise.resolve(""),
  ]);
  const sc = scorer === "gateway" ? g : own;
  if (g === null || sc === null) return null;
  const gs = sumSamples(g);
  const ss = sumSamples(sc);
  return {
    scorerFailures: gs.get("inferd_gateway_scorer_failures_total") ?? 0,
    kvLookupErrors: ss.get("inferd_scorer_kv_lookup_errors_total") ?? 0,
    addedLatencySum: gs.get("inferd_gateway_added_latency_seconds_sum") ?? 0,
    addedLatencyCount: gs.get("inferd_gateway_added_latency_seconds_count") ?? 0,
    timings: timingsFromText(g, sc),
  };
}

export function subRouter(a: RouterCounters, b: RouterCounters): RouterCounters {
  return {
    scorerFailures: a.scorerFailures - b.scorerFailures,
    kvLookupErrors: a.kvLookupErrors - b.kvLookupErrors,
    addedLatencySum: a.addedLatencySum - b.addedLatencySum,
    addedLatencyCount: a.addedLatencyCount - b.addedLatencyCount,
    timings: Object.fromEntries(
      PICK_TIMINGS.map((t) => [
        t,
        subHistogram(a.timings?.[t] ?? EMPTY_HISTOGRAM, b.timings?.[t] ?? EMPTY_HISTOGRAM),
      ]),
    ) as RouterCounters["timings"],
  };
}
