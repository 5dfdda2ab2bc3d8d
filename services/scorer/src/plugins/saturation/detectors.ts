import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { SaturationDetector } from "../../framework/plugin.ts";
import type { Endpoint } from "../../framework/types.ts";

export const UTILIZATION_DETECTOR = "utilization-detector";
export const CONCURRENCY_DETECTOR = "concurrency-detector";

/**
 * llm-d's default detector: an endpoint is saturated when its waiting queue reaches
 * `queueDepthThreshold` or its KV cache `kvCacheUtilThreshold`, or when its last scrape failed.
 * Unknown metrics (never scraped, stale) do not count as saturation here: the scorer may run with a
 * static endpoint list and no scraping, and in-flight accounting is judged by concurrency-detector.
 */
export class UtilizationDetector implements SaturationDetector {
  readonly type = UTILIZATION_DETECTOR;
  readonly name: string;
  private readonly queueDepth: number;
  private readonly kvUtil: number;

  constructor(
    opts: { queueDepthThreshold: number; kvCacheUtilThreshold: number },
    name: string = UTILIZATION_DETECTOR,
  ) {
    this.queueDepth = opts.queueDepthThreshold;
    this.kvUtil = opts.kvCacheUtilThreshold;
    this.name = name;
  }

  saturated(_cycle: CycleState, e: Endpoint): boolean {
    if (e.unreachable) return true;
    const m = e.metrics;
    if (!m) return false;
    return (
      (m.waiting !== undefined && m.waiting >= this.queueDepth) ||
      (m.kvUsage !== undefined && m.kvUsage >= this.kvUtil)
    );
  }
}

/** Saturated when in-flight requests (or tokens) reach a per-endpoint limit. */
export class ConcurrencyDetector implements SaturationDetector {
  readonly type = CONCURRENCY_DETECTOR;
  readonly name: string;
  private readonly maxConcurrency: number;
  private readonly maxTokens: number;

  constructor(
    opts: { maxConcurrency: number; maxTokenConcurrency: number },
    name: string = CONCURRENCY_DETECTOR,
  ) {
    this.maxConcurrency = opts.maxConcurrency;
    this.maxTokens = opts.maxTokenConcurrency;
    this.name = name;
  }

  saturated(_cycle: CycleState, e: Endpoint): boolean {
    if (e.unreachable) return true;
    if (this.maxConcurrency > 0 && e.inflight.requests >= this.maxConcurrency) return true;
    return this.maxTokens > 0 && e.inflight.tokens >= this.maxTokens;
  }
}

export function utilizationDetectorFactory(
  name: string,
  params: Params,
  _handle: Handle,
): UtilizationDetector {
  const queueDepthThreshold = params.number("queueDepthThreshold", 5, { min: 0 });
  const kvCacheUtilThreshold = params.number("kvCacheUtilThreshold", 0.8, { min: 0, max: 1 });
  params.ignore("metricsStalenessThreshold", "headroom");
  return new UtilizationDetector({ queueDepthThreshold, kvCacheUtilThreshold }, name);
}

export function concurrencyDetectorFactory(
  name: string,
  params: Params,
  _handle: Handle,
): ConcurrencyDetector {
  const maxConcurrency = params.int("maxConcurrency", 100, { min: 0 });
  const maxTokenConcurrency = params.int("maxTokenConcurrency", 0, { min: 0 });
  params.ignore("headroom");
  return new ConcurrencyDetector({ maxConcurrency, maxTokenConcurrency }, name);
}
