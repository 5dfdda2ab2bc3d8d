import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import { leaseAction } from "./lease.ts";

export interface LeaderElectorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  durationMs: number;
  /** Called when leadership is gained (true) or lost (false). */
  onChange: (leader: boolean) => void;
  onError?: (err: Error) => void;
}

/**
 * One active deployer per namespace through a coordination.k8s.io Lease: take it when free or
 * expired, renew it every third of its duration, give it up on stop. Writes use the Lease's
 * resourceVersion, so two candidates racing for it cannot both win.
 */
export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #api: CoordinationV1Api;
  #leader = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #attempts = 0;

  constructor(options: LeaderElectorOptions) {
    this.#o = options;
    this.#api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  /** Completed attempts to take or renew the Lease (for tests and diagnostics). */
  get attempts(): number {
    return this.#attempts;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  start(): void {
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    let leader = false;
    try {
      leader = await this.#tryAcquire();
    } catch (err) {
      this.#o.onError?.(err as Error);
    }
    if (this.#stopped) return;
    this.#attempts++;
    this.#set(leader);
    this.#timer = setTimeout(() => void this.#tick(), Math.max(200, this.#o.durationMs / 3));
  }

  #set(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    this.#o.onChange(leader);
  }

  async #tryAcquire(): Promise<boolean> {
    const { namespace, name, identity } = this.#o;
    const seconds = Math.ceil(this.#o.durationMs / 1_000);
    let current: V1Lease | undefined;
    try {
      current = await this.#api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
    const action = leaseAction(current?.spec, identity, Date.now());
    // MicroTime: the API server wants six fractional digits, which a plain Date does not print.
    const now = new V1MicroTime();
    if (action === "wait") return false;
    if (action === "create") {
      await this.#api.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: seconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
      });
      return true;
    }
    const lease = current as V1Lease;
    const spec = lease.spec ?? {};
    await this.#api.replaceNamespacedLease({
      name,
      namespace,
      body: {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: seconds,
          renewTime: now,
          ...(action === "take"
            ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }
            : {}),
        },
      },
    });
    return true;
  }

  /** Stops renewing and releases the Lease, so a standby takes over without waiting for expiry. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (!this.#leader) return;
    try {
      const lease = await this.#api.readNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace });
      if (lease.spec?.holderIdentity === this.#o.identity) {
        await this.#api.replaceNamespacedLease({
          name: this.#o.name,
          namespace: this.#o.namespace,
          body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined } },
        });
      }
    } catch (err) {
      this.#o.onError?.(err as Error);
    }
    this.#set(false);
  }
}
