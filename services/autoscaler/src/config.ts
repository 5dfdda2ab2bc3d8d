import {
  type ConfigOf,
  int,
  json,
  loadConfig,
  natsCredentialFields,
  oneOf,
  str,
  streamReplicasFields,
} from "@inferd/service-kit";
import { type PoolPolicy, parsePools } from "./policy/pool-policy.ts";

/** Service keys: defaults < YAML (`--config`) < env `INFERD_AUTOSCALER_<KEY>`. */
export const AUTOSCALER_CONFIG = {
  natsUrl: str({ default: "nats://127.0.0.1:4222", doc: "NATS server URL" }),
  ...natsCredentialFields(),
  subjectPrefix: str({ default: "inferd", doc: "subject prefix (inferd.v1...)" }),
  ...streamReplicasFields(),
  opsPort: int({
    default: 9103,
    min: 0,
    max: 65535,
    doc: "port of /metrics /healthz /readyz (0 = any free port)",
  }),
  intervalMs: int({ default: 1000, min: 50, doc: "decision loop period" }),
  leaseTtlMs: int({
    default: 6000,
    min: 1000,
    doc: "leader lease lifetime in the JetStream KV bucket; a standby takes over at most this long after the leader stops renewing",
  }),
  requestsReplayMs: int({
    default: 60_000,
    min: 0,
    doc: "request lifecycle events replayed from INFERD_REQUESTS at start (a new leader starts with a full window)",
  }),
  loadStalenessMs: int({ default: 5000, min: 100, doc: "EndpointLoad older than this is ignored" }),
  demandStalenessMs: int({
    default: 1000,
    min: 100,
    doc: "a gateway's Demand older than this no longer counts",
  }),
  replicaId: str({ default: "", doc: "identity in the lease (default autoscaler-<host>-<pid>)" }),
  pools: json<PoolPolicy[]>({
    default: [],
    doc: "one entry per model pool and role (see the README: model, pool, role, minReplicas, maxReplicas, SLO, windows)",
    validate: (v) => {
      try {
        return parsePools(v);
      } catch (err) {
        // One line per bad key, each naming its pool entry.
        throw new Error((err as Error).message.split("\n").join("\n  "));
      }
    },
  }),
  logLevel: oneOf(["trace", "debug", "info", "warn", "error"], { default: "info", doc: "log level" }),
};

export type AutoscalerConfig = ConfigOf<typeof AUTOSCALER_CONFIG>;

export function loadAutoscalerConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): AutoscalerConfig {
  return loadConfig("autoscaler", AUTOSCALER_CONFIG, { argv, env });
}
