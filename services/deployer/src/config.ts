import { homedir } from "node:os";
import { join } from "node:path";
import {
  bool,
  type ConfigOf,
  int,
  json,
  list,
  loadConfig,
  oneOf,
  str,
  streamReplicasFields,
} from "@inferd/service-kit";
import { type PoolSpec, parsePools } from "./domain/pools.ts";
import { DEFAULT_KV_EVENTS_TOPIC } from "./drivers/local/command-template.ts";

/** `$XDG_STATE_HOME/inferd/deployer`, else `~/.local/state/inferd/deployer`. */
function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "inferd", "deployer");
}

/** Service keys: defaults < YAML (`--config`) < env `INFERD_DEPLOYER_<KEY>`. */
export const DEPLOYER_CONFIG = {
  natsUrl: str({ default: "nats://127.0.0.1:4222", doc: "NATS server URL" }),
  subjectPrefix: str({ default: "inferd", doc: "subject prefix (inferd.v1...)" }),
  ...streamReplicasFields(),
  opsPort: int({
    default: 9104,
    min: 0,
    max: 65535,
    doc: "port of /metrics /healthz /readyz (0 = any free port)",
  }),
  driver: oneOf(["local", "kubernetes"], {
    default: "local",
    doc: "local processes or Kubernetes workloads",
  }),
  pools: json<PoolSpec[]>({
    default: [],
    doc: "pools: [{name, model, replicas, minReplicas, maxReplicas, kind, args}] (JSON in the environment)",
    validate: parsePools,
  }),
  durableName: str({ default: "deployer", nonEmpty: true, doc: "durable consumer name on INFERD_DECISIONS" }),
  // local driver
  command: list({
    default: [],
    doc: "local: server argv with {model} {pool} {pod} {port} {kvEventsPort} {kvReplayPort} {kvEventsConfig}; empty = model-sim",
  }),
  kvEventsTopic: str({
    default: DEFAULT_KV_EVENTS_TOPIC,
    doc: "local: topic of the servers' KV events in {kvEventsConfig} ({pod} {model} filled by model-sim; \"\" = vLLM's default, which vllm-router --kv-event-source needs)",
  }),
  simProfile: str({
    default: "qwen3-32b-h100-tp2",
    doc: "local: model-sim latency profile (default command only)",
  }),
  healthIntervalMs: int({
    default: 100,
    min: 10,
    doc: "local: /health probe interval of a starting server (and of a ready one after a failed probe)",
  }),
  healthReadyIntervalMs: int({
    default: 1_000,
    min: 10,
    doc: "local: /health probe interval of a ready server (its exit is seen at once without a probe)",
  }),
  drainSettleMs: int({
    default: 500,
    min: 0,
    doc: "local: wait after marking draining before checking in-flight",
  }),
  drainGraceMs: int({
    default: 30_000,
    min: 0,
    doc: "local: longest wait for in-flight requests before SIGTERM",
  }),
  restartBaseMs: int({ default: 500, min: 1, doc: "local: first restart delay after a crash (doubles)" }),
  restartMaxMs: int({ default: 30_000, min: 1, doc: "local: longest restart delay" }),
  stateDir: str({
    default: defaultStateDir(),
    doc: "local: directory of the record of running servers, adopted after a restart; empty = none",
  }),
  adoptTimeoutMs: int({
    default: 10_000,
    min: 0,
    doc: "local: how long a recorded running server has to answer /health at start before it is replaced",
  }),
  // kubernetes driver
  kubeconfig: str({ default: "", doc: "kubernetes: kubeconfig file; empty = in-cluster or ~/.kube/config" }),
  namespace: str({ default: "default", nonEmpty: true, doc: "kubernetes: namespace of the pools" }),
  targetPort: int({
    default: 8000,
    min: 1,
    max: 65535,
    doc: "kubernetes: model server port of Deployment pools",
  }),
  inferencePools: bool({
    default: true,
    doc: "kubernetes: read InferencePools (inference.networking.k8s.io/v1) as pool definitions",
  }),
  leaseName: str({
    default: "inferd-deployer",
    nonEmpty: true,
    doc: "kubernetes: coordination.k8s.io Lease",
  }),
  leaseDurationMs: int({ default: 15_000, min: 1_000, doc: "kubernetes: lease duration" }),
  identity: str({ default: "", doc: "leader-election identity (default deployer-<host>-<pid>)" }),
  logLevel: oneOf(["trace", "debug", "info", "warn", "error"], { default: "info", doc: "log level" }),
};

export type DeployerConfig = ConfigOf<typeof DEPLOYER_CONFIG>;

export function loadDeployerConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): DeployerConfig {
  return loadConfig("deployer", DEPLOYER_CONFIG, { argv, env });
}
