import type { EndpointMetrics } from "../framework/types.ts";
import { parsePromText, type Sample } from "./prom-text.ts";

/**
 * Engine metric names for each signal, first match wins (reference B7 / GAIE model-server protocol):
 * vLLM v1 and its old names, SGLang before and after its `sglang:` -> `sglang_` rename, trtllm-serve.
 */
export const METRIC_ALIASES = {
  waiting: [
    "vllm:num_requests_waiting",
    "sglang:num_queue_reqs",
    "sglang_num_queue_reqs",
    "trtllm_num_requests_waiting",
  ],
  running: [
    "vllm:num_requests_running",
    "sglang:num_running_reqs",
    "sglang_num_running_reqs",
    "trtllm_num_requests_running",
  ],
  kvUsage: [
    "vllm:kv_cache_usage_perc",
    "vllm:gpu_cache_usage_perc",
    "sglang:token_usage",
    "sglang_token_usage",
    "trtllm_kv_cache_utilization",
  ],
  cacheConfig: ["vllm:cache_config_info", "sglang:cache_config_info", "sglang_cache_config_info"],
  lora: ["vllm:lora_requests_info"],
} as const;

const WANTED: ReadonlySet<string> = new Set(Object.values(METRIC_ALIASES).flat());

/**
 * The path the scraper asks for: `/metrics` restricted with prometheus_client's `name[]` filter
 * (vLLM's and SGLang's /metrics honour it) to the metrics above, so the server renders and sends a
 * few gauges instead of its whole page of histograms. A server that ignores the filter sends the
 * whole page, which `extractMetrics` reads the same way.
 */
export const SCRAPE_PATH = `/metrics?${[...WANTED].map((n) => `name[]=${encodeURIComponent(n)}`).join("&")}`;

/**
 * Reads the scorer's signals from a /metrics page. A signal whose metric is absent stays undefined
 * ("unknown", never 0). Counts are summed over series (data-parallel engines report one each); KV usage
 * takes the highest series, the one that saturates first.
 */
export function extractMetrics(text: string, scrapedAtMs: number): EndpointMetrics {
  const samples = parsePromText(text, WANTED);
  const byName = new Map<string, Sample[]>();
  for (const s of samples) {
    let list = byName.get(s.name);
    if (!list) {
      list = [];
      byName.set(s.name, list);
    }
    list.push(s);
  }
  const first = (names: readonly string[]): Sample[] | undefined => {
    for (const n of names) {
      const list = byName.get(n);
      if (list && list.length > 0) return list;
    }
    return undefined;
  };
  const sum = (list: Sample[] | undefined): number | undefined =>
    list ? list.reduce((a, s) => a + (Number.isFinite(s.value) ? s.value : 0), 0) : undefined;

  const kv = first(METRIC_ALIASES.kvUsage);
  const kvUsage = kv ? Math.max(...kv.map((s) => s.value).filter(Number.isFinite)) : undefined;
  const cfg = first(METRIC_ALIASES.cacheConfig)?.[0]?.labels;
  const lora = latest(first(METRIC_ALIASES.lora));
  const num = (v: string | undefined): number | undefined => {
    if (v === undefined || v === "") return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  const list = (v: string | undefined): string[] =>
    v
      ? v
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean)
      : [];

  const out: {
    -readonly [K in keyof EndpointMetrics]: EndpointMetrics[K];
  } = {
    runningLoras: list(lora?.labels.running_lora_adapters),
    waitingLoras: list(lora?.labels.waiting_lora_adapters),
    scrapedAtMs,
  };
  const waiting = sum(first(METRIC_ALIASES.waiting));
  const running = sum(first(METRIC_ALIASES.running));
  if (waiting !== undefined) out.waiting = waiting;
  if (running !== undefined) out.running = running;
  if (kvUsage !== undefined && Number.isFinite(kvUsage)) out.kvUsage = kvUsage;
  const blockSize = num(cfg?.block_size ?? cfg?.page_size);
  const numGpuBlocks = num(cfg?.num_gpu_blocks ?? cfg?.num_pages);
  if (blockSize !== undefined) out.blockSize = blockSize;
  if (numGpuBlocks !== undefined) out.numGpuBlocks = numGpuBlocks;
  const maxLora = num(lora?.labels.max_lora);
  if (maxLora !== undefined) out.maxLora = maxLora;
  return out;
}

/** vllm:lora_requests_info's value is a timestamp: the series with the largest one is current. */
function latest(list: Sample[] | undefined): Sample | undefined {
  if (!list) return undefined;
  let best: Sample | undefined;
  for (const s of list) if (!best || s.value > best.value) best = s;
  return best;
}
