import { Counter, Gauge, type Registry } from "prom-client";
import type { PoolTick } from "../policy/autoscaler.ts";

/**
 * The autoscaler's gauges: its own per pool and role, and the WVA-compatible ones
 * (`wva_desired_replicas`, `wva_current_replicas`, `wva_desired_ratio` with labels variant_name,
 * namespace, accelerator_type) that an HPA or a KEDA ScaledObject can actuate on directly.
 * Only the leader exports pool gauges, so a scrape never sees two answers for one pool.
 */
export class AutoscalerMetrics {
  readonly desired: Gauge<"model" | "pool" | "role">;
  readonly current: Gauge<"model" | "pool" | "role">;
  readonly capacity: Gauge<"model" | "pool" | "role">;
  readonly leader: Gauge;
  readonly decisions: Gauge<"model" | "pool">;
  /** Decisions handed to the stream publisher, and those it gave up (by reason). */
  readonly decisionsPublished: Counter;
  readonly decisionsDropped: Counter<"reason">;
  readonly wvaDesired: Gauge<"variant_name" | "namespace" | "accelerator_type">;
  readonly wvaCurrent: Gauge<"variant_name" | "namespace" | "accelerator_type">;
  readonly wvaRatio: Gauge<"variant_name" | "namespace" | "accelerator_type">;
  readonly #all: Gauge<string>[];

  constructor(registry: Registry) {
    const pool = ["model", "pool", "role"] as const;
    const wva = ["variant_name", "namespace", "accelerator_type"] as const;
    this.desired = new Gauge({
      name: "inferd_autoscaler_desired_replicas",
      help: "Replicas the autoscaler wants per pool and role.",
      labelNames: pool,
      registers: [registry],
    });
    this.current = new Gauge({
      name: "inferd_autoscaler_current_replicas",
      help: "Ready replicas per pool and role.",
      labelNames: pool,
      registers: [registry],
    });
    this.capacity = new Gauge({
      name: "inferd_autoscaler_capacity_rps_per_replica",
      help: "Learned sustainable requests/s per replica at the SLO (0 = not learned yet).",
      labelNames: pool,
      registers: [registry],
    });
    this.leader = new Gauge({
      name: "inferd_autoscaler_leader",
      help: "1 while this replica holds the leader lease.",
      registers: [registry],
    });
    this.decisions = new Gauge({
      name: "inferd_autoscaler_last_decision_timestamp_seconds",
      help: "When the last ScaleDecision of a pool was published.",
      labelNames: ["model", "pool"],
      registers: [registry],
    });
    this.decisionsPublished = new Counter({
      name: "inferd_autoscaler_decisions_published_total",
      help: "ScaleDecisions published to the decisions stream (stored, or counted in decisions_dropped_total).",
      registers: [registry],
    });
    this.decisionsDropped = new Counter({
      name: "inferd_autoscaler_decisions_dropped_total",
      help: "ScaleDecisions the decisions stream never acknowledged, by reason (overflow, expired, closed).",
      labelNames: ["reason"],
      registers: [registry],
    });
    this.wvaDesired = new Gauge({
      name: "wva_desired_replicas",
      help: "Desired replicas (WVA-compatible; HPA/KEDA target AverageValue 1).",
      labelNames: wva,
      registers: [registry],
    });
    this.wvaCurrent = new Gauge({
      name: "wva_current_replicas",
      help: "Current replicas (WVA-compatible).",
      labelNames: wva,
      registers: [registry],
    });
    this.wvaRatio = new Gauge({
      name: "wva_desired_ratio",
      help: "Desired over current replicas (WVA-compatible).",
      labelNames: wva,
      registers: [registry],
    });
    this.#all = [this.desired, this.current, this.capacity, this.wvaDesired, this.wvaCurrent, this.wvaRatio];
  }

  observe(t: PoolTick): void {
    const p = t.policy;
    const l = { model: p.model, pool: p.pool, role: p.role };
    const w = { variant_name: p.pool, namespace: p.namespace, accelerator_type: p.acceleratorType };
    this.desired.set(l, t.desired);
    this.current.set(l, t.ready);
    this.capacity.set(l, t.inputs.capacityRpsPerReplica);
    this.wvaDesired.set(w, t.desired);
    this.wvaCurrent.set(w, t.ready);
    this.wvaRatio.set(w, t.ready > 0 ? t.desired / t.ready : t.desired);
  }

  /** A standby exports no pool gauges. */
  clearPools(): void {
    for (const g of this.#all) g.reset();
  }
}
