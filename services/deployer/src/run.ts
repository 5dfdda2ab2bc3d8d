import { hostname } from "node:os";
import { connectNats, type NatsConnection, openKv } from "@inferd/bus";
import { type ScaleDecision, subjects } from "@inferd/protocol";
import {
  createLogger,
  createMetricsRegistry,
  type Logger,
  type OpsServer,
  startOpsServer,
} from "@inferd/service-kit";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import { consumeDecisions, type DecisionsConsumer } from "./adapters/decisions-consumer.ts";
import { inventoryWriter, recordsWrittenBy } from "./adapters/inventory-writer.ts";
import { DeployerMetrics } from "./adapters/metrics.ts";
import type { DeployerConfig } from "./config.ts";
import { actuate } from "./domain/actuation.ts";
import { createDriver, loadKubeConfig } from "./drivers/create-driver.ts";
import type { PoolDriver } from "./drivers/driver.ts";
import { LeaderElector } from "./drivers/kubernetes/leader-election.ts";
import type { LocalDriverOptions } from "./drivers/local/local-driver.ts";

export interface RunningDeployer {
  readonly driver: PoolDriver;
  readonly nc: NatsConnection;
  readonly ops: OpsServer;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Stops acting on decisions, then the driver (local: drains its servers), then the links. */
  stop(): Promise<void>;
}

export interface RunDeployerOptions extends Pick<LocalDriverOptions, "onOutput"> {
  logger?: Logger;
  kubeConfig?: KubeConfig;
}

/**
 * Starts the deployer: NATS link, driver, inventory writer, and (while it leads) the decisions
 * consumer. The local driver always leads (its servers are its children); the Kubernetes driver
 * leads while it holds the Lease, and a standby only watches.
 */
export async function runDeployer(
  config: DeployerConfig,
  opts: RunDeployerOptions = {},
): Promise<RunningDeployer> {
  const logger = opts.logger ?? createLogger({ service: "deployer", level: config.logLevel });
  const registry = createMetricsRegistry("deployer");
  const metrics = new DeployerMetrics(registry);
  const identity = config.identity || `deployer-${hostname()}-${process.pid}`;
  const kubeConfig =
    config.driver === "kubernetes" ? (opts.kubeConfig ?? loadKubeConfig(config.kubeconfig)) : undefined;
  const driver = createDriver(config, {
    ...(kubeConfig ? { kubeConfig } : {}),
    onWarning: (message) => logger.warn(message),
    onEvent: (event) => logger.info(event, `server ${event.type}`),
    ...(opts.onOutput ? { onOutput: opts.onOutput } : {}),
  });

  const nc = await connectNats({ servers: config.natsUrl, name: `inferd-deployer-${identity}` });
  const kv = await openKv(nc, subjects(config.subjectPrefix).buckets.endpoints, {
    history: 1,
    replicas: config.streamReplicas,
  });
  const managedBy = `inferd-deployer-${config.driver}`;
  const writer = inventoryWriter(kv, {
    prefix: config.subjectPrefix,
    managedBy,
    onError: (err) => logger.warn({ err: err.message }, "inventory write failed; retried on the next change"),
  });

  let leading = false;
  const publish = () => {
    const replicas = driver.replicas();
    metrics.replicas.reset();
    for (const r of replicas) metrics.replicas.inc({ pool: r.pool, state: r.state });
    for (const p of driver.pools()) metrics.desired.set({ pool: p.name }, driver.desired(p.name) ?? 0);
    if (leading) void writer.sync(replicas);
  };
  driver.onChange(publish);

  const apply = async (d: ScaleDecision, source: "latest" | "stream") => {
    const a = actuate(
      { model: d.model, pool: d.pool, desiredReplicas: d.desiredReplicas },
      driver.pools(),
      (pool) => driver.desired(pool),
    );
    const fields = { source, model: d.model, pool: d.pool, desired: d.desiredReplicas, reason: d.reason };
    if (a.kind === "ignored") {
      metrics.decisions.inc({ pool: d.pool, outcome: "ignored" });
      logger.warn({ ...fields, why: a.reason }, "decision ignored");
      return;
    }
    if (a.kind === "unchanged") {
      metrics.decisions.inc({ pool: a.pool, outcome: "unchanged" });
      logger.debug({ ...fields, replicas: a.replicas }, "decision: pool already at that size");
      return;
    }
    try {
      await driver.scale(a.pool, a.to);
    } catch (err) {
      metrics.decisions.inc({ pool: a.pool, outcome: "error" });
      throw err;
    }
    metrics.decisions.inc({ pool: a.pool, outcome: "scale" });
    logger.info({ ...fields, from: a.from, to: a.to, clamped: a.clamped }, "decision applied");
  };

  let consumer: DecisionsConsumer | undefined;
  let transition: Promise<void> = Promise.resolve();
  const setLeading = (leader: boolean) => {
    transition = transition.then(async () => {
      leading = leader;
      metrics.isLeader.set(leader ? 1 : 0);
      logger.info({ identity, leader }, leader ? "leading: acting on decisions" : "standing by");
      if (leader) {
        publish();
        consumer = await consumeDecisions(nc, {
          prefix: config.subjectPrefix,
          replicas: config.streamReplicas,
          durable: config.durableName,
          latestOf: driver.pools().map((p) => ({ model: p.model, pool: p.name })),
          apply,
          onError: (err, subject) => logger.warn({ err: err.message, subject }, "decision not applied"),
        });
      } else {
        await consumer?.stop();
        consumer = undefined;
      }
    });
  };

  // A local deployer restarted after kill -9 left its records behind: it owns them again, so its
  // adopted servers' records are not rewritten and those of servers gone since are deleted.
  if (config.driver === "local")
    writer.takeOver(
      await recordsWrittenBy(
        kv,
        managedBy,
        driver.pools().map((p) => p.name),
      ),
    );
  await driver.start();
  let elector: LeaderElector | undefined;
  if (kubeConfig) {
    elector = new LeaderElector({
      kubeConfig,
      namespace: config.namespace,
      name: config.leaseName,
      identity,
      durationMs: config.leaseDurationMs,
      onChange: setLeading,
      onError: (err) => logger.warn({ err: err.message }, "lease"),
    });
    elector.start();
  } else {
    setLeading(true);
  }
  await transition;

  const ops = await startOpsServer({
    port: config.opsPort,
    registry,
    logger,
    readiness: [{ name: "nats", check: () => !nc.isClosed() }],
  });

  return {
    driver,
    nc,
    ops,
    registry,
    logger,
    async stop() {
      await elector?.stop();
      await transition;
      await consumer?.stop();
      consumer = undefined;
      await driver.stop();
      // Local servers are gone with the deployer; Kubernetes Pods stay, and so do their records.
      if (config.driver === "local") await writer.clear();
      await ops.close();
      await nc.drain();
    },
  };
}
