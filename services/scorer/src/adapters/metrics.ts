import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Plugin } from "../framework/plugin.ts";
import type { ExtensionPoint, PluginTimer } from "../framework/scheduler.ts";
import type { PickResult } from "../pick/pick-service.ts";

// Fine around 0.5-5 ms: a pick's budget within the gateway's added-latency goal (p50 <= 2.5 ms).
const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025,
  0.05, 0.1, 0.25, 1,
];
const PLUGIN_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05];
const RATIO_BUCKETS = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1];

/**
 * A labelled child per key, made once: `counter.inc({label})` hashes its labels on every call, and
 * these run per scrape and per lifecycle event.
 */
function cachedChildren<T>(make: (key: string) => T): (key: string) => T {
  const children = new Map<string, T>();
  return (key) => {
    let c = children.get(key);
    if (c === undefined) {
      c = make(key);
      children.set(key, c);
    }
    return c;
  };
}

/**
 * The scorer's Prometheus metrics: inferd names, plus llm-d `llm_d_epp_*` names where the meaning is the
 * same so existing EPP dashboards keep working.
 */
export class ScorerMetrics {
  readonly picks: Counter<"outcome" | "profile">;
  readonly pickDuration: Histogram;
  readonly pluginDuration: Histogram<"extension_point" | "plugin_type" | "plugin_name">;
  readonly endpointPicks: Counter<"model" | "pod">;
  readonly prefixHitRatio: Histogram;
  readonly kvLookupDuration: Histogram;
  readonly kvLookupErrors: Counter<"code">;
  readonly scrapes: Counter<"result">;
  readonly loadPublishes: Counter<"result">;
  readonly scrapeDuration: Histogram;
  readonly lifecycleEvents: Counter<"phase">;
  readonly inflightRequests: Gauge<"pod">;
  readonly inflightTokens: Gauge<"pod">;
  readonly eppSchedulerDuration: Histogram;
  readonly eppPluginDuration: Histogram<"extension_point" | "plugin_type" | "plugin_name">;
  readonly eppPrefixHitRatio: Histogram;
  readonly eppQueueSize: Gauge<"name" | "model_server_endpoint">;
  readonly eppReadyEndpoints: Gauge;
  private readonly pluginChildren = new Map<string, { observe(v: number): void }[]>();
  /** Cached children of the per-event and per-scrape series. */
  readonly lifecycleEvent: (phase: string) => { inc(): void };
  readonly scrapeResult: (result: string) => { inc(): void };
  readonly loadPublish: (result: string) => { inc(): void };

  constructor(registry: Registry) {
    const r = [registry];
    this.picks = new Counter({
      name: "inferd_scorer_picks_total",
      help: "Picks answered, by outcome and profile(s) run.",
      labelNames: ["outcome", "profile"],
      registers: r,
    });
    this.pickDuration = new Histogram({
      name: "inferd_scorer_pick_duration_seconds",
      help: "Time to answer a pick, including tokenisation and kv-index lookups.",
      buckets: LATENCY_BUCKETS,
      registers: r,
    });
    this.pluginDuration = new Histogram({
      name: "inferd_scorer_plugin_duration_seconds",
      help: "Time spent in each plugin call.",
      labelNames: ["extension_point", "plugin_type", "plugin_name"],
      buckets: PLUGIN_BUCKETS,
      registers: r,
    });
    this.endpointPicks = new Counter({
      name: "inferd_scorer_endpoint_picks_total",
      help: "Times each endpoint was chosen first.",
      labelNames: ["model", "pod"],
      registers: r,
    });
    this.prefixHitRatio = new Histogram({
      name: "inferd_scorer_prefix_hit_ratio",
      help: "Share of the prompt cached on the chosen endpoint, per pick.",
      buckets: RATIO_BUCKETS,
      registers: r,
    });
    this.kvLookupDuration = new Histogram({
      name: "inferd_scorer_kv_lookup_duration_seconds",
      help: "kv-index lookup round trips.",
      buckets: LATENCY_BUCKETS,
      registers: r,
    });
    this.kvLookupErrors = new Counter({
      name: "inferd_scorer_kv_lookup_errors_total",
      help: "Failed kv-index lookups (the pick fell back to approximate prefixes).",
      labelNames: ["code"],
      registers: r,
    });
    this.scrapes = new Counter({
      name: "inferd_scorer_scrapes_total",
      help: "Endpoint /metrics scrapes, by result.",
      labelNames: ["result"],
      registers: r,
    });
    this.loadPublishes = new Counter({
      name: "inferd_scorer_load_publishes_total",
      help: "EndpointLoad messages after a scrape: sent (changed, or heartbeat), unchanged or deferred (changed within loadPublishMinIntervalMs; not sent).",
      labelNames: ["result"],
      registers: r,
    });
    this.scrapeDuration = new Histogram({
      name: "inferd_scorer_scrape_duration_seconds",
      help: "Endpoint /metrics scrape time.",
      buckets: LATENCY_BUCKETS,
      registers: r,
    });
    this.lifecycleEvents = new Counter({
      name: "inferd_scorer_lifecycle_events_total",
      help: "Request lifecycle events applied, by phase.",
      labelNames: ["phase"],
      registers: r,
    });
    this.inflightRequests = new Gauge({
      name: "inferd_scorer_inflight_requests",
      help: "Requests in flight per endpoint, as this replica sees them.",
      labelNames: ["pod"],
      registers: r,
    });
    this.inflightTokens = new Gauge({
      name: "inferd_scorer_inflight_tokens",
      help: "Prompt tokens in flight per endpoint.",
      labelNames: ["pod"],
      registers: r,
    });
    this.eppSchedulerDuration = new Histogram({
      name: "llm_d_epp_scheduler_e2e_duration_seconds",
      help: "llm-d compatible: end-to-end scheduling latency.",
      buckets: LATENCY_BUCKETS,
      registers: r,
    });
    this.eppPluginDuration = new Histogram({
      name: "llm_d_epp_plugin_duration_seconds",
      help: "llm-d compatible: plugin processing latency.",
      labelNames: ["extension_point", "plugin_type", "plugin_name"],
      buckets: PLUGIN_BUCKETS,
      registers: r,
    });
    this.eppPrefixHitRatio = new Histogram({
      name: "llm_d_epp_prefix_indexer_hit_ratio",
      help: "llm-d compatible: prefix cache hit ratio of picks.",
      buckets: RATIO_BUCKETS,
      registers: r,
    });
    this.eppQueueSize = new Gauge({
      name: "llm_d_epp_per_endpoint_queue_size",
      help: "llm-d compatible: waiting queue per endpoint (last scrape).",
      labelNames: ["name", "model_server_endpoint"],
      registers: r,
    });
    this.eppReadyEndpoints = new Gauge({
      name: "llm_d_epp_ready_endpoints",
      help: "llm-d compatible: ready endpoints known.",
      registers: r,
    });
    this.lifecycleEvent = cachedChildren((phase) => this.lifecycleEvents.labels({ phase }));
    this.scrapeResult = cachedChildren((result) => this.scrapes.labels({ result }));
    this.loadPublish = cachedChildren((result) => this.loadPublishes.labels({ result }));
  }

  /** Per-plugin timing, with the labelled children cached (this runs several times per pick). */
  readonly timer: PluginTimer = (point: ExtensionPoint, plugin: Plugin, seconds: number) => {
    const key = `${point}\u0000${plugin.name}`;
    let children = this.pluginChildren.get(key);
    if (!children) {
      const labels = { extension_point: point, plugin_type: plugin.type, plugin_name: plugin.name };
      children = [this.pluginDuration.labels(labels), this.eppPluginDuration.labels(labels)];
      this.pluginChildren.set(key, children);
    }
    for (const c of children) c.observe(seconds);
  };

  observePick(model: string, r: PickResult): void {
    this.picks.inc({ outcome: r.outcome, profile: r.profile || "none" });
    this.pickDuration.observe(r.seconds);
    this.eppSchedulerDuration.observe(r.seconds);
    const first = r.endpoints[0];
    if (first) this.endpointPicks.inc({ model, pod: first.pod });
    if (r.prefixHitRatio !== undefined) {
      this.prefixHitRatio.observe(r.prefixHitRatio);
      this.eppPrefixHitRatio.observe(r.prefixHitRatio);
    }
  }
}
