import { hostname } from "node:os";
import { autoscalerLeaseBucket, connectNats, type NatsConnection } from "@inferd/bus";
import {
  createLogger,
  createMetricsRegistry,
  type Logger,
  natsCredentialsOf,
  type OpsServer,
  startOpsServer,
} from "@inferd/service-kit";
import type { Registry } from "prom-client";
import { type BusInputs, followBus } from "./adapters/inputs.ts";
import { holdLease, type Lease } from "./adapters/lease.ts";
import { AutoscalerMetrics } from "./adapters/metrics.ts";
import { decisionPublisher } from "./adapters/publisher.ts";
import type { AutoscalerConfig } from "./config.ts";
import { Autoscaler } from "./policy/autoscaler.ts";

export interface RunningAutoscaler {
  readonly autoscaler: Autoscaler;
  readonly nc: NatsConnection;
  readonly ops: OpsServer;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly lease: Lease;
  readonly id: string;
  /** Releases the lease (a standby takes over at once), then closes inputs and links. */
  stop(): Promise<void>;
}

/**
 * Starts one autoscaler replica: NATS link, bus inputs, the leader lease, the decision loop and
 * the ops server. Every replica follows the inputs; only the lease holder decides and publishes.
 */
export async function runAutoscaler(
  config: AutoscalerConfig,
  opts: { logger?: Logger } = {},
): Promise<RunningAutoscaler> {
  const logger = opts.logger ?? createLogger({ service: "autoscaler", level: config.logLevel });
  const id = config.replicaId || `autoscaler-${hostname()}-${process.pid}`;
  const registry = createMetricsRegistry("autoscaler");
  const metrics = new AutoscalerMetrics(registry);
  const autoscaler = new Autoscaler(config.pools, {
    loadStalenessMs: config.loadStalenessMs,
    demandStalenessMs: config.demandStalenessMs,
  });
  const nc = await connectNats({ servers: config.natsUrl, name: id, credentials: natsCredentialsOf(config) });
  const inputs: BusInputs = await followBus(nc, autoscaler, {
    prefix: config.subjectPrefix,
    replayMs: config.requestsReplayMs,
    replicas: config.streamReplicas,
    logger,
  });
  const decisions = await decisionPublisher(nc, {
    prefix: config.subjectPrefix,
    replicas: config.streamReplicas,
    logger,
    onDropped: (reason) => metrics.decisionsDropped.inc({ reason }),
  });
  const lease = await holdLease(nc, {
    bucket: autoscalerLeaseBucket(config.subjectPrefix),
    replicas: config.streamReplicas,
    id,
    ttlMs: config.leaseTtlMs,
    logger,
    onChange: (leader) => {
      metrics.leader.set(leader ? 1 : 0);
      if (!leader) metrics.clearPools();
    },
  });
  metrics.leader.set(lease.isLeader ? 1 : 0);

  let busy = false;
  const round = async () => {
    if (busy) return;
    busy = true;
    try {
      const now = Date.now();
      if (!lease.isLeader) {
        autoscaler.follow(now);
        return;
      }
      for (const t of autoscaler.tick(now)) {
        metrics.observe(t);
        if (t.action === undefined) continue;
        const p = t.policy;
        logger.info(
          {
            model: p.model,
            pool: p.pool,
            role: p.role,
            desired: t.action.desired,
            current: t.action.current,
          },
          t.action.reason,
        );
        decisions.publish(p, t.action, now);
        metrics.decisionsPublished.inc();
        metrics.decisions.set({ model: p.model, pool: p.pool }, now / 1000);
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void round(), config.intervalMs);

  const ops = await startOpsServer({
    port: config.opsPort,
    registry,
    logger,
    readiness: [{ name: "nats", check: () => !nc.isClosed() }],
  });
  logger.info({ id, pools: config.pools.length, leader: lease.isLeader }, "autoscaler started");
  return {
    autoscaler,
    nc,
    ops,
    registry,
    logger,
    lease,
    id,
    async stop() {
      clearInterval(timer);
      // The last decisions stored before the lease goes (a standby decides from then on).
      await Promise.race([decisions.flush(), new Promise((r) => setTimeout(r, 5_000).unref())]);
      decisions.close();
      await lease.release();
      await inputs.stop();
      await ops.close();
      await nc.drain().catch(() => undefined);
    },
  };
}
