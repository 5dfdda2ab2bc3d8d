import { Counter, Gauge, type Registry } from "prom-client";

/** The deployer's Prometheus series. */
export class DeployerMetrics {
  readonly decisions: Counter<"pool" | "outcome">;
  readonly replicas: Gauge<"pool" | "state">;
  readonly desired: Gauge<"pool">;
  readonly isLeader: Gauge;

  constructor(registry: Registry) {
    this.decisions = new Counter({
      name: "inferd_deployer_decisions_total",
      help: "ScaleDecisions handled, by outcome (scale, unchanged, ignored, error)",
      labelNames: ["pool", "outcome"],
      registers: [registry],
    });
    this.replicas = new Gauge({
      name: "inferd_deployer_replicas",
      help: "Replicas observed, by pool and state (starting, ready, draining, unhealthy)",
      labelNames: ["pool", "state"],
      registers: [registry],
    });
    this.desired = new Gauge({
      name: "inferd_deployer_desired_replicas",
      help: "Replicas last asked of each pool",
      labelNames: ["pool"],
      registers: [registry],
    });
    this.isLeader = new Gauge({
      name: "inferd_deployer_leader",
      help: "1 while this deployer holds the lease and acts on decisions",
      registers: [registry],
    });
  }
}
