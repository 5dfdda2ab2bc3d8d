import type { Endpoint, EndpointInfo, EndpointMetrics } from "../framework/types.ts";
import type { InflightTracker } from "./inflight.ts";

interface ScrapeState {
  metrics: EndpointMetrics | undefined;
  /** Consecutive failed scrapes since the last good one. */
  failures: number;
}

/**
 * Latest scrape per pod and the view plugins get of an endpoint: metrics older than the staleness
 * limit count as unknown, and the in-flight load comes from the shared tracker.
 */
export class LoadView {
  private readonly scrapes = new Map<string, ScrapeState>();
  private readonly inflight: InflightTracker;
  private readonly stalenessMs: number;

  constructor(inflight: InflightTracker, stalenessMs: number) {
    this.inflight = inflight;
    this.stalenessMs = stalenessMs;
  }

  scraped(pod: string, metrics: EndpointMetrics): void {
    this.scrapes.set(pod, { metrics, failures: 0 });
  }

  scrapeFailed(pod: string): void {
    const s = this.scrapes.get(pod);
    if (s) s.failures++;
    else this.scrapes.set(pod, { metrics: undefined, failures: 1 });
  }

  forget(pod: string): void {
    this.scrapes.delete(pod);
  }

  lastMetrics(pod: string): EndpointMetrics | undefined {
    return this.scrapes.get(pod)?.metrics;
  }

  failures(pod: string): number {
    return this.scrapes.get(pod)?.failures ?? 0;
  }

  endpoint(info: EndpointInfo, nowMs: number): Endpoint {
    const s = this.scrapes.get(info.pod);
    const fresh = s?.metrics && nowMs - s.metrics.scrapedAtMs <= this.stalenessMs ? s.metrics : undefined;
    return {
      pod: info.pod,
      info,
      metrics: fresh,
      unreachable: (s?.failures ?? 0) > 0,
      inflight: this.inflight.load(info.pod),
    };
  }
}
