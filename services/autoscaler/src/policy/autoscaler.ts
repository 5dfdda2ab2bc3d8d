import { PoolController, type PoolSnapshot, type TickResult } from "./controller.ts";
import type { PoolPolicy, Role } from "./pool-policy.ts";

/** An endpoint of the inventory, as far as scaling cares. */
export interface ReplicaInfo {
  readonly model: string;
  readonly pod: string;
  readonly pool: string;
  readonly role: Role;
  readonly ready: boolean;
}

/** One request lifecycle event, as far as scaling cares (RequestEvent). */
export interface RequestInfo {
  readonly phase: "admitted" | "routed" | "completed" | "failed" | "other";
  readonly model: string;
  readonly atMs: number;
  readonly endpoint: string;
  readonly prefillEndpoint: string;
  readonly ttftSeconds: number;
  readonly itlP90Seconds: number;
  /** End-to-end time (completed events), s: gives the arrival time. */
  readonly e2eSeconds?: number;
}

/** Mean load of one replica (EndpointLoad). */
export interface LoadInfo {
  readonly waiting?: number | undefined;
  readonly kvUsage?: number | undefined;
  readonly atMs: number;
}

export interface PoolTick extends TickResult {
  readonly policy: PoolPolicy;
  readonly ready: number;
  readonly starting: number;
}

const DEFAULT_POOL = "default";

/**
 * Every configured pool's controller and the bus inputs routed to it: arrivals and latencies by
 * the pool of the endpoint that served them (or every pool of the model before routing), load by
 * pod, Demand by model. Pure: the adapters call it with decoded messages and the time.
 */
export class Autoscaler {
  readonly controllers: PoolController[];
  readonly #replicas = new Map<string, ReplicaInfo>();
  readonly #load = new Map<string, LoadInfo>();
  readonly #demand = new Map<string, { held: number; atMs: number }>();
  readonly #loadStaleMs: number;
  readonly #demandStaleMs: number;

  constructor(
    pools: readonly PoolPolicy[],
    options: { loadStalenessMs?: number; demandStalenessMs?: number } = {},
  ) {
    this.controllers = pools.map((p) => new PoolController(p));
    this.#loadStaleMs = options.loadStalenessMs ?? 5000;
    this.#demandStaleMs = options.demandStalenessMs ?? 1000;
  }

  replica(key: string, info: ReplicaInfo | undefined): void {
    if (info === undefined) {
      this.#replicas.delete(key);
      return;
    }
    this.#replicas.set(key, info);
  }

  load(model: string, pod: string, info: LoadInfo): void {
    this.#load.set(`${model}\u0000${pod}`, info);
  }

  demand(model: string, gatewayId: string, held: number, atMs: number): void {
    this.#demand.set(`${model}\u0000${gatewayId}`, { held, atMs });
  }

  request(ev: RequestInfo): void {
    const pools = this.controllers.filter((c) => c.policy.model === ev.model);
    for (const c of pools) {
      const only = pools.filter((o) => o.policy.role === c.policy.role).length === 1;
      const servedBy = c.policy.role === "prefill" ? ev.prefillEndpoint : ev.endpoint;
      const pool = this.#poolOf(ev.model, servedBy);
      // The only pool of its role counts every arrival at admission; when a model has several
      // pools of one role, an arrival counts when it is routed, for the pool that got it.
      if (ev.phase === "admitted" && only) c.arrival(ev.atMs);
      else if (ev.phase === "routed" && !only && pool === c.policy.pool) c.arrival(ev.atMs);
      else if (ev.phase === "completed" && (pool === undefined ? only : pool === c.policy.pool)) {
        c.finished({
          atMs: ev.atMs,
          arrivedMs: ev.atMs - (ev.e2eSeconds ?? 0) * 1000,
          ttftSeconds: ev.ttftSeconds,
          // A prefill pool answers for TTFT only.
          itlSeconds: c.policy.role === "prefill" ? 0 : ev.itlP90Seconds,
          failed: false,
        });
      } else if (ev.phase === "failed" && (pool === undefined ? only : pool === c.policy.pool)) {
        c.finished({ atMs: ev.atMs, ttftSeconds: 0, itlSeconds: 0, failed: true });
      }
    }
  }

  /** One decision round over every pool. */
  tick(nowMs: number): PoolTick[] {
    return this.controllers.map((c) => {
      const snap = this.snapshot(c.policy, nowMs);
      return { ...c.tick(snap), policy: c.policy, ready: snap.ready, starting: snap.starting };
    });
  }

  /** A standby's round: keep the windows bounded, decide nothing. */
  follow(nowMs: number): void {
    for (const c of this.controllers) c.trim(nowMs);
  }

  snapshot(p: PoolPolicy, nowMs: number): PoolSnapshot {
    let ready = 0;
    let starting = 0;
    let waiting = 0;
    let kv = 0;
    let loaded = 0;
    for (const r of this.#replicas.values()) {
      if (r.model !== p.model || (r.pool || DEFAULT_POOL) !== p.pool) continue;
      if (!r.ready) {
        starting++;
        continue;
      }
      ready++;
      const l = this.#load.get(`${r.model}\u0000${r.pod}`);
      if (l === undefined || nowMs - l.atMs > this.#loadStaleMs) continue;
      waiting += l.waiting ?? 0;
      kv += l.kvUsage ?? 0;
      loaded++;
    }
    let held = 0;
    for (const [key, d] of this.#demand) {
      if (nowMs - d.atMs > this.#demandStaleMs) {
        this.#demand.delete(key);
        continue;
      }
      if (key.startsWith(`${p.model}\u0000`)) held += d.held;
    }
    return {
      nowMs,
      ready,
      starting,
      waitingPerReplica: loaded > 0 ? waiting / loaded : undefined,
      kvUsage: loaded > 0 ? kv / loaded : undefined,
      heldRequests: held,
    };
  }

  #poolOf(model: string, pod: string): string | undefined {
    if (pod === "") return undefined;
    for (const r of this.#replicas.values())
      if (r.model === model && r.pod === pod) return r.pool || DEFAULT_POOL;
    return undefined;
  }
}
