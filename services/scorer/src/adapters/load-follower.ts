import type { NatsConnection } from "@inferd/bus";
import { decode, type EndpointLoad, EndpointLoadSchema, subjects, timestampMs } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { EndpointMetrics } from "../framework/types.ts";
import type { LoadView } from "../state/load-view.ts";

/** EndpointLoad (as another replica or tool scraped it) back into the metrics the plugins read. */
export function metricsFromLoad(m: EndpointLoad): EndpointMetrics {
  const out: { -readonly [K in keyof EndpointMetrics]: EndpointMetrics[K] } = {
    runningLoras: [...m.runningLoraAdapters],
    waitingLoras: [...m.waitingLoraAdapters],
    scrapedAtMs: m.scrapedAt ? timestampMs(m.scrapedAt) : 0,
  };
  if (m.requestsWaiting !== undefined) out.waiting = m.requestsWaiting;
  if (m.requestsRunning !== undefined) out.running = m.requestsRunning;
  if (m.kvCacheUsage !== undefined) out.kvUsage = m.kvCacheUsage;
  if (m.blockSize !== undefined) out.blockSize = m.blockSize;
  if (m.numGpuBlocks !== undefined) out.numGpuBlocks = m.numGpuBlocks;
  if (m.maxLora !== undefined) out.maxLora = m.maxLora;
  return out;
}

/**
 * Lets a replica use the load other replicas publish instead of scraping every server itself (set
 * `scrapeIntervalMs: 0`, `followLoad: true`): N replicas then cost the model servers one scrape stream.
 * Own messages are skipped (the scraper already applied them).
 */
export function followLoad(
  nc: NatsConnection,
  load: LoadView,
  opts: { prefix: string; replicaId: string; logger: Logger },
): { stop(): void } {
  const sub = nc.subscribe(subjects(opts.prefix).loadAll());
  void (async () => {
    for await (const msg of sub) {
      try {
        const m = decode(EndpointLoadSchema, msg.data);
        if (m.source === opts.replicaId || !m.pod) continue;
        if (m.reachable) load.scraped(m.pod, metricsFromLoad(m));
        else load.scrapeFailed(m.pod);
      } catch (err) {
        opts.logger.warn({ err: (err as Error).message }, "malformed EndpointLoad skipped");
      }
    }
  })();
  return { stop: () => sub.unsubscribe() };
}
