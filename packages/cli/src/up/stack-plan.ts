import { join } from "node:path";
/**
 * What `inferd up` runs and on which ports: a pure plan from the options, so it is unit-tested
 * and the e2e tests start exactly the same stack.
 */
/** llm-d's KV-event topic convention (the simulators fill `{pod}` and `{model}`); kv-index reads both from it. */
export const DEFAULT_KV_EVENTS_TOPIC = "kv@{pod}@{model}";

export interface UpOptions {
  /** Simulated model servers (0 = none). */
  sims: number;
  /** inferd services to run (kv-index, scorer, gateway, autoscaler). */
  services: string[];
  model: string;
  profile: string;
  /** KV-event encoding of the simulators: vLLM <= 0.23 "array" or 0.24+ "map". */
  kvEventsEncoding: "array" | "map";
  /**
   * Topic of the simulators' KV events (default DEFAULT_KV_EVENTS_TOPIC). "" is vLLM's default and
   * the only topic vllm-router's `--kv-event-source` subscribes to.
   */
  kvEventsTopic?: string;
  /** Use the well-known ports (4222, 6379, 8080, ...) or pick free ones. */
  ports: "default" | "auto";
  /** Where nats-server keeps JetStream data and logs go. */
  stateDir: string;
  /** Value of PYTHONHASHSEED for the simulators (fixed, so engine hashes are reproducible). */
  hashSeed: string;
  /** The deployer runs the simulators (one process each, scaled by ScaleDecisions), or a static
   *  fleet: one process for every simulator, or one process each. */
  simMode: "deployer" | "fleet" | "processes";
  /** Whether a component exiting on its own stops the stack or is only reported. */
  onExit: "restart" | "stop" | "continue";
  /** The autoscaler resizes the deployer's pool (otherwise it is pinned at `sims`). */
  autoscale?: boolean;
  /** Scorer processes (one queue group: picks spread over them as behind a Service). */
  scorerReplicas: number;
  /**
   * nats (default): scorer processes answer picks over NATS; embedded: every gateway runs the scorer
   * in its own process (gateway key scorerMode) and no scorer process is started.
   */
  scorerMode?: "nats" | "embedded";
  /** Gateway processes, each on its own port (clients spread requests over them). */
  gatewayReplicas: number;
  /** External NATS (comma-separated URLs, e.g. a cluster): `inferd up` then starts no nats-server. */
  natsUrl?: string;
  /** External Redis Cluster seeds (host:port): `inferd up` then starts no redis-server. */
  redisClusterNodes?: string[];
}

export interface PortPlan {
  nats: number;
  natsMonitor: number;
  redis: number;
  gateway: number;
  scorer: number;
  kvIndex: number;
  autoscaler: number;
  /** The deployer's ops port (/metrics, /readyz). */
  deployer: number;
  /** First simulator HTTP port; simulator i listens on simHttp + i. */
  simHttp: number;
  /** First simulator KV-event PUB port; simulator i publishes on simEvents + i. */
  simEvents: number;
  /** First simulator KV-event replay (ROUTER) port; simulator i serves replays on simReplay + i. */
  simReplay: number;
}

export const DEFAULT_PORTS: PortPlan = {
  nats: 4222,
  natsMonitor: 8222,
  redis: 6379,
  gateway: 8080,
  scorer: 9101,
  kvIndex: 9102,
  autoscaler: 9103,
  deployer: 9104,
  simHttp: 8000,
  simEvents: 5557,
  simReplay: 6557,
};

export interface SimServerPlan {
  pod: string;
  httpPort: number;
  eventsPort: number;
  replayPort: number;
  address: string;
  kvEventsEndpoint: string;
  kvReplayEndpoint: string;
}

/** The simulators' names and ports: pod `sim-<http port>` (model-sim's own default name) on consecutive ports. */
export function planSims(options: Pick<UpOptions, "sims">, ports: PortPlan): SimServerPlan[] {
  return Array.from({ length: options.sims }, (_, i) => ({
    pod: `sim-${ports.simHttp + i}`,
    httpPort: ports.simHttp + i,
    eventsPort: ports.simEvents + i,
    replayPort: ports.simReplay + i,
    address: `http://127.0.0.1:${ports.simHttp + i}`,
    kvEventsEndpoint: `tcp://127.0.0.1:${ports.simEvents + i}`,
    kvReplayEndpoint: `tcp://127.0.0.1:${ports.simReplay + i}`,
  }));
}

/** Environment shared by every inferd service of the stack. */
export function serviceEnv(
  service: string,
  ports: PortPlan,
  extra: Record<string, string> = {},
): Record<string, string> {
  const key = service.replace(/-/g, "_").toUpperCase();
  return {
    [`INFERD_${key}_NATS_URL`]: `nats://127.0.0.1:${ports.nats}`,
    ...extra,
  };
}

/**
 * The deployer's environment for `inferd up`: one local pool, "default", of `sims` model-sims
 * (the autoscaler may take it from 0 up to maxReplicas), each server on ports the driver picks.
 */
export function deployerEnv(
  options: Pick<UpOptions, "sims" | "model" | "profile" | "kvEventsEncoding" | "kvEventsTopic" | "stateDir">,
  ports: PortPlan,
): Record<string, string> {
  return serviceEnv("deployer", ports, {
    INFERD_DEPLOYER_OPS_PORT: String(ports.deployer),
    INFERD_DEPLOYER_DRIVER: "local",
    INFERD_DEPLOYER_KV_EVENTS_TOPIC: options.kvEventsTopic ?? DEFAULT_KV_EVENTS_TOPIC,
    // The record of its running servers: a deployer restarted by the supervisor adopts them.
    INFERD_DEPLOYER_STATE_DIR: join(options.stateDir, "deployer"),
    INFERD_DEPLOYER_SIM_PROFILE: options.profile,
    INFERD_DEPLOYER_POOLS: JSON.stringify([
      {
        name: "default",
        model: options.model,
        replicas: options.sims,
        minReplicas: 0,
        maxReplicas: Math.max(8, 2 * options.sims),
        args: ["--kv-events-encoding", options.kvEventsEncoding],
      },
    ]),
  });
}

/** The inferd services `inferd up` starts as processes: with the scorer embedded, no scorer. */
export function serviceProcesses(options: Pick<UpOptions, "services" | "scorerMode">): string[] {
  return options.scorerMode === "embedded"
    ? options.services.filter((s) => s !== "scorer")
    : options.services;
}

/**
 * What a gateway process needs beyond its port: with the scorer embedded, the gateway key
 * scorerMode and the scorer's own keys (`INFERD_SCORER_*`, read by the scorer's loader in the
 * gateway's process; its NATS link defaults to the gateway's), less the ops port it does not open.
 */
export function gatewayScorerEnv(
  options: Pick<UpOptions, "scorerMode">,
  scorerEnv: Record<string, string>,
): Record<string, string> {
  if (options.scorerMode !== "embedded") return {};
  const { INFERD_SCORER_OPS_PORT: _ops, ...rest } = scorerEnv;
  return { INFERD_GATEWAY_SCORER_MODE: "embedded", ...rest };
}
