import { request } from "undici";
import { pick, sumSamples } from "../lib/prom.ts";
import { addCounters, type ServerCounters, ZERO_COUNTERS } from "../lib/results.ts";

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
