import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  type V1Pod,
} from "@kubernetes/client-node";
import { clampReplicas, type PoolSpec } from "../../domain/pools.ts";
import type { Replica } from "../../domain/replica.ts";
import { ChangeEmitter, type PoolDriver } from "../driver.ts";
import { INFERENCE_POOL, type InferencePoolObject, poolFromInferencePool } from "./inference-pool.ts";
import { type KubePool, matchesSelector, podToReplica } from "./pod-replica.ts";

export interface KubeDriverOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Pools named in the deployer's config: each is the Deployment (or LeaderWorkerSet) of that name. */
  pools: readonly PoolSpec[];
  /** Server port of configured pools (InferencePools name their own). */
  targetPort: number;
  /** Read InferencePools in the namespace as pool definitions. */
  inferencePools: boolean;
  /** Replica bounds of pools discovered from InferencePools. */
  discoveredBounds?: { minReplicas: number; maxReplicas: number };
  onWarning?: (message: string) => void;
}

export const LWS = { group: "leaderworkerset.x-k8s.io", version: "v1", plural: "leaderworkersets" } as const;

/**
 * Model pools as Kubernetes workloads: scaled through the `/scale` subresource, discovered by
 * watching the namespace's Pods (list + watch informers, never polling).
 */
export class KubeDriver implements PoolDriver {
  readonly kind = "kubernetes";
  readonly #opts: KubeDriverOptions;
  readonly #apps: AppsV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly #configured = new Map<string, KubePool>();
  readonly #discovered = new Map<string, KubePool>();
  readonly #desired = new Map<string, number>();
  readonly #changes = new ChangeEmitter();
  #pods: (Informer<V1Pod> & ObjectCache<V1Pod>) | undefined;
  #poolsInformer: (Informer<KubernetesObject> & ObjectCache<KubernetesObject>) | undefined;
  #stopped = false;

  constructor(options: KubeDriverOptions) {
    this.#opts = options;
    this.#apps = options.kubeConfig.makeApiClient(AppsV1Api);
    this.#custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  async start(): Promise<void> {
    const ns = this.#opts.namespace;
    for (const spec of this.#opts.pools) this.#configured.set(spec.name, await this.#configuredPool(spec));
    this.#pods = makeInformer<V1Pod>(this.#opts.kubeConfig, `/api/v1/namespaces/${ns}/pods`, () =>
      this.#core.listNamespacedPod({ namespace: ns }),
    );
    for (const verb of ["add", "update", "delete"] as const) this.#pods.on(verb, () => this.#changes.emit());
    this.#pods.on("error", (err) => {
      // Stopping aborts the watch, which the informer reports as an error: not one to restart on.
      if (this.#stopped) return;
      this.#opts.onWarning?.(`pod watch: ${String((err as Error)?.message ?? err)}; restarting`);
      setTimeout(() => {
        if (!this.#stopped) void this.#pods?.start().catch(() => undefined);
      }, 1_000);
    });
    await this.#pods.start();
    if (this.#opts.inferencePools) await this.#watchInferencePools();
    this.#changes.emit();
  }

  async #configuredPool(spec: PoolSpec): Promise<KubePool> {
    const ns = this.#opts.namespace;
    const selector =
      spec.kind === "Deployment"
        ? (await this.#apps.readNamespacedDeployment({ name: spec.name, namespace: ns })).spec?.selector
            ?.matchLabels
        : { "leaderworkerset.sigs.k8s.io/name": spec.name };
    if (!selector || Object.keys(selector).length === 0)
      throw new Error(`${spec.kind} ${ns}/${spec.name}: no matchLabels selector`);
    const scale = await this.#readScale(spec.kind, spec.name);
    this.#desired.set(spec.name, scale);
    return {
      name: spec.name,
      model: spec.model,
      selector,
      port: this.#opts.targetPort,
      workload: { kind: spec.kind, name: spec.name },
      minReplicas: spec.minReplicas,
      maxReplicas: spec.maxReplicas,
      source: "config",
    };
  }

  async #watchInferencePools(): Promise<void> {
    const ns = this.#opts.namespace;
    const { group, version, plural } = INFERENCE_POOL;
    const list = () =>
      this.#custom.listNamespacedCustomObject({ group, version, namespace: ns, plural }) as Promise<{
        items: KubernetesObject[];
        metadata?: { resourceVersion?: string };
      }>;
    try {
      await list();
    } catch (err) {
      this.#opts.onWarning?.(`InferencePools not readable (CRD not installed?): ${(err as Error).message}`);
      return;
    }
    this.#poolsInformer = makeInformer<KubernetesObject>(
      this.#opts.kubeConfig,
      `/apis/${group}/${version}/namespaces/${ns}/${plural}`,
      list as never,
    );
    const refresh = () => {
      this.#discovered.clear();
      for (const obj of this.#poolsInformer?.list() ?? []) {
        const pool = poolFromInferencePool(
          obj as InferencePoolObject,
          this.#opts.discoveredBounds ?? { minReplicas: 0, maxReplicas: 64 },
        );
        if (typeof pool === "string") this.#opts.onWarning?.(pool);
        else if (!this.#configured.has(pool.name)) this.#discovered.set(pool.name, pool);
      }
      this.#changes.emit();
    };
    for (const verb of ["add", "update", "delete"] as const) this.#poolsInformer.on(verb, refresh);
    await this.#poolsInformer.start();
    refresh();
  }

  #allPools(): KubePool[] {
    return [...this.#configured.values(), ...this.#discovered.values()];
  }

  pools(): KubePool[] {
    return this.#allPools();
  }

  desired(pool: string): number | undefined {
    return this.#desired.get(pool);
  }

  replicas(): Replica[] {
    const pools = this.#allPools();
    const out: Replica[] = [];
    for (const pod of this.#pods?.list() ?? []) {
      const pool = pools.find((p) => matchesSelector(pod.metadata?.labels, p.selector));
      const r = pool ? podToReplica(pod, pool) : undefined;
      if (r) out.push(r);
    }
    return out;
  }

  onChange(listener: () => void): () => void {
    return this.#changes.on(listener);
  }

  async scale(poolName: string, replicas: number): Promise<void> {
    const pool = this.#allPools().find((p) => p.name === poolName);
    if (!pool)
      throw new Error(
        `unknown pool "${poolName}" (known: ${this.pools()
          .map((p) => p.name)
          .join(", ")})`,
      );
    const workload = pool.workload ?? (await this.#findDeployment(pool));
    const target = clampReplicas(replicas, pool);
    const ns = this.#opts.namespace;
    const body = { metadata: { name: workload.name, namespace: ns }, spec: { replicas: target } };
    if (workload.kind === "Deployment") {
      await this.#apps.replaceNamespacedDeploymentScale({ name: workload.name, namespace: ns, body });
    } else {
      await this.#custom.replaceNamespacedCustomObjectScale({
        ...LWS,
        namespace: ns,
        name: workload.name,
        body,
      });
    }
    this.#desired.set(poolName, target);
  }

  async #readScale(kind: "Deployment" | "LeaderWorkerSet", name: string): Promise<number> {
    const ns = this.#opts.namespace;
    const scale =
      kind === "Deployment"
        ? await this.#apps.readNamespacedDeploymentScale({ name, namespace: ns })
        : ((await this.#custom.getNamespacedCustomObjectScale({ ...LWS, namespace: ns, name })) as {
            spec?: { replicas?: number };
          });
    return scale.spec?.replicas ?? 0;
  }

  /** An InferencePool without a scale-target annotation is scaled through the one Deployment it selects. */
  async #findDeployment(pool: KubePool): Promise<{ kind: "Deployment"; name: string }> {
    const list = await this.#apps.listNamespacedDeployment({ namespace: this.#opts.namespace });
    const matching = list.items.filter((d) =>
      matchesSelector(d.spec?.template.metadata?.labels, pool.selector),
    );
    if (matching.length !== 1 || !matching[0]?.metadata?.name)
      throw new Error(
        `InferencePool ${pool.name}: ${matching.length} Deployments match its selector; set the inferd.io/scale-target annotation`,
      );
    return { kind: "Deployment", name: matching[0].metadata.name };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#pods?.stop();
    await this.#poolsInformer?.stop();
  }
}
