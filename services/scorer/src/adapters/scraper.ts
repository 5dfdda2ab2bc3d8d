import { encodeMessage, messageHeaders, type NatsConnection } from "@inferd/bus";
import { EndpointLoadSchema, make, subjects, timestampFromMs } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import { request } from "undici";
import type { EndpointInfo, EndpointMetrics } from "../framework/types.ts";
import type { EndpointStore } from "../state/endpoints.ts";
import type { InflightTracker } from "../state/inflight.ts";
import { LoadPublishGate } from "../state/load-publish-gate.ts";
import type { LoadView } from "../state/load-view.ts";
import { extractMetrics, SCRAPE_PATH } from "../state/metric-aliases.ts";
import type { ScorerMetrics } from "./metrics.ts";

const LOAD_HEADERS = messageHeaders(EndpointLoadSchema);

export interface ScraperOptions {
  intervalMs: number;
  /**
   * Most scrapes per second over all endpoints (0 = no cap): past it the interval stretches to
   * endpoints / cap seconds. Measured: a scrape costs the scorer ~0.65 ms of CPU (and a vLLM-like
   * server ~1 ms), so 100 endpoints every 100 ms would take 0.65 of a core per scorer replica.
   */
  maxScrapesPerSecond?: number;
  timeoutMs: number;
  /**
   * An endpoint that had nothing waiting at its last good scrape, and whose in-flight load did not
   * change since (no pick, no lifecycle event touched it), is scraped only this often (0 = every
   * interval). What the scrape would show then changes only by traffic that bypasses inferd (or by
   * decoding filling the KV cache), so this bounds how late that is seen.
   */
  quietIntervalMs?: number;
  /**
   * Publish EndpointLoad on `inferd.v1.load.<model>.<pod>` after a scrape that changed it, and at
   * least every `heartbeatMs` (so followers can tell a quiet server from a lost publisher);
   * null = do not.
   */
  publish: {
    nc: NatsConnection;
    prefix: string;
    source: string;
    heartbeatMs?: number;
    /** Least time between two publishes of a changed load of one pod (default 0: every change). */
    minIntervalMs?: number;
  } | null;
  logger: Logger;
  metrics: ScorerMetrics | undefined;
  now?: () => number;
}

/**
 * Scrapes every known endpoint's vLLM /metrics each interval (one request per endpoint at a time; a slow
 * endpoint skips a round rather than piling up requests), feeds the load view, and publishes EndpointLoad
 * for the autoscaler and other tools. Unknown metrics stay unknown in the published message too.
 */
export class Scraper {
  private readonly opts: ScraperOptions;
  private readonly store: EndpointStore;
  private readonly load: LoadView;
  private readonly inflight: InflightTracker;
  private readonly busy = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly now: () => number;
  private readonly warned = new Set<string>();
  private readonly gate: LoadPublishGate;
  /** When each endpoint was last scraped and the in-flight change number it had then. */
  private readonly last = new Map<string, { atMs: number; change: number }>();

  constructor(store: EndpointStore, load: LoadView, inflight: InflightTracker, opts: ScraperOptions) {
    this.store = store;
    this.load = load;
    this.inflight = inflight;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.gate = new LoadPublishGate({
      minIntervalMs: opts.publish?.minIntervalMs ?? 0,
      heartbeatMs: opts.publish?.heartbeatMs ?? 1_000,
    });
  }

  start(): void {
    if (this.running || this.opts.intervalMs <= 0) return;
    this.running = true;
    this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The interval now: the configured one, stretched so that scrapes stay under the cap. */
  intervalMs(): number {
    const cap = this.opts.maxScrapesPerSecond ?? 0;
    const n = this.store.all().length;
    return cap > 0 ? Math.max(this.opts.intervalMs, Math.ceil((1000 * n) / cap)) : this.opts.intervalMs;
  }

  private tick(): void {
    if (!this.running) return;
    void this.round();
    this.timer = setTimeout(() => this.tick(), this.intervalMs());
    this.timer.unref();
  }

  /** One scrape of every endpoint not still being scraped; resolves when all of them finished. */
  async round(): Promise<void> {
    const pending: Promise<void>[] = [];
    const now = this.now();
    const known = this.store.all();
    for (const info of known) {
      const key = `${info.model}\u0000${info.pod}`;
      if (this.busy.has(key) || !info.address) continue;
      if (this.quiet(key, info.pod, now)) {
        this.opts.metrics?.scrapeResult("skipped").inc();
        continue;
      }
      this.last.set(key, { atMs: now, change: this.inflight.lastChange(info.pod) });
      this.busy.add(key);
      pending.push(this.scrape(info).finally(() => this.busy.delete(key)));
    }
    if (this.last.size > known.length) {
      const live = new Set(known.map((i) => `${i.model}\u0000${i.pod}`));
      for (const key of this.last.keys()) if (!live.has(key)) this.last.delete(key);
    }
    await Promise.all(pending);
  }

  /** True when a scrape of this endpoint now would only repeat the last one (see quietIntervalMs). */
  private quiet(key: string, pod: string, now: number): boolean {
    const quietMs = this.opts.quietIntervalMs ?? 0;
    if (quietMs <= 0) return false;
    const last = this.last.get(key);
    if (last === undefined || now - last.atMs >= quietMs) return false;
    if (this.inflight.lastChange(pod) !== last.change) return false;
    // Only after a good scrape with an empty queue: a queue, an unreachable server and unknown
    // metrics are what the saturation detectors act on, so those keep the full rate.
    const m = this.load.lastMetrics(pod);
    return m !== undefined && this.load.failures(pod) === 0 && m.waiting === 0;
  }

  private async scrape(info: EndpointInfo): Promise<void> {
    const t0 = performance.now();
    let metrics: EndpointMetrics | undefined;
    try {
      const res = await request(`${info.address}${SCRAPE_PATH}`, {
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
      metrics = extractMetrics(text, this.now());
      this.load.scraped(info.pod, metrics);
      this.opts.metrics?.scrapeResult("ok").inc();
      this.warned.delete(info.pod);
    } catch (err) {
      this.load.scrapeFailed(info.pod);
      this.opts.metrics?.scrapeResult("error").inc();
      if (!this.warned.has(info.pod)) {
        this.warned.add(info.pod);
        this.opts.logger.warn(
          { pod: info.pod, address: info.address, err: (err as Error).message },
          "scrape failed",
        );
      }
    }
    this.opts.metrics?.scrapeDuration.observe((performance.now() - t0) / 1000);
    if (metrics?.waiting !== undefined) {
      this.opts.metrics?.eppQueueSize.set(
        { name: info.pod, model_server_endpoint: info.address },
        metrics.waiting,
      );
    }
    this.publish(info, metrics);
  }

  private publish(info: EndpointInfo, m: EndpointMetrics | undefined): void {
    const p = this.opts.publish;
    if (!p || p.nc.isClosed() || p.nc.isDraining()) return; // a scrape that outlives stop()
    const inflight = this.inflight.load(info.pod);
    // Publish on change: at 100 endpoints scraped every 100 ms, most rounds change nothing.
    const fingerprint = m
      ? `${m.waiting}|${m.running}|${m.kvUsage}|${m.runningLoras.join(",")}|${m.waitingLoras.join(",")}|${inflight.requests}|${Math.round(inflight.tokens)}`
      : `unreachable|${inflight.requests}|${Math.round(inflight.tokens)}`;
    const verdict = this.gate.admit(`${info.model}\u0000${info.pod}`, fingerprint, this.now());
    if (verdict !== "send") {
      this.opts.metrics?.loadPublish(verdict).inc();
      return;
    }
    this.opts.metrics?.loadPublish("sent").inc();
    const msg = make(EndpointLoadSchema, {
      model: info.model,
      pod: info.pod,
      scrapedAt: timestampFromMs(this.now()),
      reachable: m !== undefined,
      runningLoraAdapters: m ? [...m.runningLoras] : [],
      waitingLoraAdapters: m ? [...m.waitingLoras] : [],
      inflightRequests: inflight.requests,
      inflightTokens: BigInt(Math.max(0, Math.round(inflight.tokens))),
      source: p.source,
      ...(m?.waiting !== undefined ? { requestsWaiting: m.waiting } : {}),
      ...(m?.running !== undefined ? { requestsRunning: m.running } : {}),
      ...(m?.kvUsage !== undefined ? { kvCacheUsage: m.kvUsage } : {}),
      ...(m?.blockSize !== undefined ? { blockSize: m.blockSize } : {}),
      ...(m?.numGpuBlocks !== undefined ? { numGpuBlocks: m.numGpuBlocks } : {}),
      ...(m?.maxLora !== undefined ? { maxLora: m.maxLora } : {}),
    });
    // With its type header, like every other inferd message (DESIGN: Inferd-Message-Type).
    p.nc.publish(subjects(p.prefix).load(info.model, info.pod), encodeMessage(EndpointLoadSchema, msg), {
      headers: LOAD_HEADERS,
    });
  }
}
