export { DEPLOYER_CONFIG, type DeployerConfig, loadDeployerConfig } from "./config.ts";
export { actuate } from "./domain/actuation.ts";
export { clampReplicas, type PoolSpec, parsePools } from "./domain/pools.ts";
export type { Replica, ReplicaState } from "./domain/replica.ts";
export type { PoolDriver } from "./drivers/driver.ts";
export { KubeDriver } from "./drivers/kubernetes/kube-driver.ts";
export { LocalDriver } from "./drivers/local/local-driver.ts";
export { type RunningDeployer, runDeployer } from "./run.ts";
