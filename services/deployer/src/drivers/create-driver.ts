import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { DeployerConfig } from "../config.ts";
import type { PoolDriver } from "./driver.ts";
import { KubeDriver } from "./kubernetes/kube-driver.ts";
import { LocalDriver, type LocalDriverOptions } from "./local/local-driver.ts";

/** model-sim's entry in this checkout (the local driver's default server), found from this file. */
export function modelSimEntry(): string {
  let dir = import.meta.dirname;
  for (;;) {
    const file = join(dir, "services", "model-sim", "src", "main.ts");
    if (existsSync(file)) return file;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("command is empty and services/model-sim is not in this checkout");
    dir = parent;
  }
}

/** The default local command: a model-sim per replica, on the driver's ports, publishing KV events. */
export function modelSimCommand(profile: string): string[] {
  return [
    process.execPath,
    modelSimEntry(),
    "--model",
    "{model}",
    "--port",
    "{port}",
    "--pod-name",
    "{pod}",
    "--profile",
    profile,
    "--kv-events-config",
    "{kvEventsConfig}",
    "--prefix-caching-hash-algo",
    "sha256_cbor",
  ];
}

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

/** Builds the configured driver (one place that knows both). */
export function createDriver(
  config: DeployerConfig,
  extra: Pick<LocalDriverOptions, "onOutput" | "onEvent"> & {
    kubeConfig?: KubeConfig;
    onWarning?: (m: string) => void;
  } = {},
): PoolDriver {
  if (config.driver === "kubernetes") {
    return new KubeDriver({
      kubeConfig: extra.kubeConfig ?? loadKubeConfig(config.kubeconfig),
      namespace: config.namespace,
      pools: config.pools,
      targetPort: config.targetPort,
      inferencePools: config.inferencePools,
      ...(extra.onWarning ? { onWarning: extra.onWarning } : {}),
    });
  }
  return new LocalDriver({
    pools: config.pools,
    command: config.command.length > 0 ? config.command : modelSimCommand(config.simProfile),
    kvEventsTopic: config.kvEventsTopic,
    healthIntervalMs: config.healthIntervalMs,
    healthReadyIntervalMs: config.healthReadyIntervalMs,
    drainSettleMs: config.drainSettleMs,
    drainGraceMs: config.drainGraceMs,
    restartBaseMs: config.restartBaseMs,
    restartMaxMs: config.restartMaxMs,
    ...(config.stateDir ? { stateDir: config.stateDir } : {}),
    adoptTimeoutMs: config.adoptTimeoutMs,
    ...(extra.onOutput ? { onOutput: extra.onOutput } : {}),
    ...(extra.onEvent ? { onEvent: extra.onEvent } : {}),
  });
}
