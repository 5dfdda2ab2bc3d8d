import type { V1Pod } from "@kubernetes/client-node";
import { parseRole, type Replica, type ReplicaState } from "../../domain/replica.ts";

/** A pool as the Kubernetes driver sees it: which Pods are its servers and how to scale it. */
export interface KubePool {
  readonly name: string;
  readonly model: string;
  /** Pods with all these labels are the pool's servers. */
  readonly selector: Readonly<Record<string, string>>;
  readonly port: number;
  /** The workload whose /scale subresource sets the replica count (undefined: read-only pool). */
  readonly workload: { kind: "Deployment" | "LeaderWorkerSet"; name: string } | undefined;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Where the definition came from: the deployer's config or an InferencePool. */
  readonly source: "config" | "InferencePool";
}

export const LABELS = {
  role: "llm-d.ai/role",
  lwsWorkerIndex: "leaderworkerset.sigs.k8s.io/worker-index",
} as const;

export const ANNOTATIONS = {
  model: "inferd.io/model",
  loraAdapters: "inferd.io/lora-adapters",
  kvEventsPort: "inferd.io/kv-events-port",
  kvReplayPort: "inferd.io/kv-replay-port",
  blockSize: "inferd.io/block-size",
  scaleTarget: "inferd.io/scale-target",
} as const;

export function matchesSelector(
  labels: Readonly<Record<string, string>> | undefined,
  selector: Readonly<Record<string, string>>,
): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

/** Pod state: deleting -> draining; Ready condition -> ready; restarted and not ready -> unhealthy. */
export function podState(pod: V1Pod): ReplicaState | undefined {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return undefined;
  if (pod.metadata?.deletionTimestamp) return "draining";
  const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  if (ready && phase === "Running") return "ready";
  const restarted = (pod.status?.containerStatuses ?? []).some((c) => (c.restartCount ?? 0) > 0);
  return restarted ? "unhealthy" : "starting";
}

/** LoRA adapters from the `inferd.io/lora-adapters` annotation or label (comma-separated). */
function loraAdapters(pod: V1Pod): string[] {
  const raw =
    pod.metadata?.annotations?.[ANNOTATIONS.loraAdapters] ?? pod.metadata?.labels?.[ANNOTATIONS.loraAdapters];
  return (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function portAnnotation(pod: V1Pod, key: string): number | undefined {
  const n = Number(pod.metadata?.annotations?.[key]);
  return Number.isInteger(n) && n > 0 && n < 65_536 ? n : undefined;
}

/**
 * The replica a Pod of `pool` is, or undefined when it is not one (finished Pod, or a
 * LeaderWorkerSet worker: only group leaders, index 0, take requests).
 */
export function podToReplica(pod: V1Pod, pool: KubePool): Replica | undefined {
  const name = pod.metadata?.name;
  if (!name) return undefined;
  const worker = pod.metadata?.labels?.[LABELS.lwsWorkerIndex];
  if (worker !== undefined && worker !== "0") return undefined;
  const state = podState(pod);
  if (!state) return undefined;
  const ip = pod.status?.podIP ?? "";
  const kvPort = portAnnotation(pod, ANNOTATIONS.kvEventsPort);
  const replayPort = portAnnotation(pod, ANNOTATIONS.kvReplayPort);
  const blockSize = Number(pod.metadata?.annotations?.[ANNOTATIONS.blockSize] ?? 16);
  return {
    pool: pool.name,
    model: pool.model,
    pod: name,
    address: ip ? `http://${ip}:${pool.port}` : "",
    state,
    role: parseRole(pod.metadata?.labels?.[LABELS.role]),
    loraAdapters: loraAdapters(pod),
    kvEventsEndpoint: ip && kvPort ? `tcp://${ip}:${kvPort}` : "",
    kvReplayEndpoint: ip && replayPort ? `tcp://${ip}:${replayPort}` : "",
    blockSize: Number.isInteger(blockSize) && blockSize > 0 ? blockSize : 16,
    labels: { "inferd.io/node": pod.spec?.nodeName ?? "" },
  };
}
