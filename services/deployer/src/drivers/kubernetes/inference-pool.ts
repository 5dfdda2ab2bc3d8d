import type { KubePool } from "./pod-replica.ts";
import { ANNOTATIONS } from "./pod-replica.ts";

/** The fields of a Gateway API Inference Extension InferencePool (inference.networking.k8s.io/v1) read here. */
export interface InferencePoolObject {
  metadata?: { name?: string; annotations?: Record<string, string> };
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    targetPorts?: { number?: number }[];
  };
}

export const INFERENCE_POOL = {
  group: "inference.networking.k8s.io",
  version: "v1",
  plural: "inferencepools",
} as const;

/**
 * An InferencePool as a pool definition: its selector picks the servers, its first target port is
 * theirs. The model is the `inferd.io/model` annotation (the pool's name otherwise); the workload
 * to scale is the `inferd.io/scale-target` annotation (`Deployment/<name>` or
 * `LeaderWorkerSet/<name>`) or, failing that, the one Deployment whose Pods the selector picks
 * (resolved by the driver). Returns an error string for a pool it cannot use.
 */
export function poolFromInferencePool(
  obj: InferencePoolObject,
  bounds: { minReplicas: number; maxReplicas: number },
): KubePool | string {
  const name = obj.metadata?.name;
  if (!name) return "InferencePool without a name";
  const selector = obj.spec?.selector?.matchLabels ?? {};
  if (Object.keys(selector).length === 0) return `InferencePool ${name}: empty selector`;
  const port = obj.spec?.targetPorts?.[0]?.number;
  if (!port) return `InferencePool ${name}: no targetPorts`;
  const target = obj.metadata?.annotations?.[ANNOTATIONS.scaleTarget];
  let workload: KubePool["workload"];
  if (target) {
    const m = /^(Deployment|LeaderWorkerSet)\/([a-z0-9][-a-z0-9.]*)$/.exec(target);
    if (!m)
      return `InferencePool ${name}: ${ANNOTATIONS.scaleTarget} must be Deployment/<name> or LeaderWorkerSet/<name>`;
    workload = { kind: m[1] as "Deployment" | "LeaderWorkerSet", name: m[2]! };
  }
  return {
    name,
    model: obj.metadata?.annotations?.[ANNOTATIONS.model] ?? name,
    selector,
    port,
    workload,
    ...bounds,
    source: "InferencePool",
  };
}
