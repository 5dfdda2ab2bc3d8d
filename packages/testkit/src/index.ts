export { freePort, freePortRange } from "@inferd/service-kit/free-port";
export { requireBinary } from "./binaries.ts";
export { makeTestCertificates, type TestCertificates } from "./certs.ts";
export { assertConfigFuzz, type ConfigFuzzOptions } from "./config-fuzz.ts";
export { containersAvailable, type ServerBackend, serverBackend, TEST_SERVERS_IMAGE } from "./containers.ts";
export {
  type KubeControlPlane,
  type StartKubeControlPlaneOptions,
  startKubeControlPlane,
} from "./kube/control-plane.ts";
export { type KubeTools, requireKubeTools } from "./kube/tools.ts";
export { type NatsClusterHandle, type NatsClusterNode, startNatsCluster } from "./nats-cluster.ts";
export {
  type NatsServerHandle,
  type StartNatsOptions,
  startNats,
  startNatsContainer,
} from "./nats-server.ts";
export { type ManagedProcess, type StartProcessOptions, startProcess } from "./process.ts";
export { type RedisClusterHandle, startRedisCluster } from "./redis-cluster.ts";
export {
  type RedisServerHandle,
  type StartRedisOptions,
  startRedis,
  startRedisContainer,
} from "./redis-server.ts";
export { REPO_TOOLS_BIN, repoTool } from "./repo-tools.ts";
export { canConnect } from "./tcp.ts";
export {
  type VllmDumpMode,
  type VllmFieldDoc,
  vllmShapeProblems,
} from "./vllm-openai-shape.ts";
export { type WaitForOptions, waitFor } from "./wait-for.ts";
