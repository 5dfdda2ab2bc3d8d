/**
 * The policies compared: inferd's own controller (the service's code, unchanged) and the
 * baselines as their docs recommend them. Each gets the fleet's observation on its own period and
 * answers a desired replica count (undefined = leave it).
 */
import { POOL_DEFAULTS, PoolController, type PoolPolicy } from "@inferd/autoscaler";
import type { FleetObservation, Listener } from "./fleet.ts";

export interface Slo {
  readonly ttftSeconds: number;
  readonly itlSeconds: number;
  readonly percentile: number;
}

export interface Policy extends Listener {
  readonly name: string;
  /** Decision period, s. */
  readonly periodS: number;
  decide(o: FleetObservation): number | undefined;
}

export const POLICY_NAMES = ["inferd", "static-peak", "hpa-kv", "keda-queue", "wva-saturation"] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export interface PolicyContext {
  readonly slo: Slo;
  readonly maxReplicas: number;
  readonly startupSeconds: number;
  readonly staticReplicas: number;
  readonly scaleToZero: boolean;
}

export function makePolicy(name: PolicyName, ctx: PolicyContext): Policy {
  switch (name) {
    case "inferd":
      return inferdPolicy(ctx);
    case "static-peak":
      return { name, periodS: 60, decide: () => ctx.staticReplicas };
    case "hpa-kv":
      // HPA on vllm:kv_cache_usage_perc, target 0.8 (AverageValue over ready pods), 15 s sync.
      return hpa(name, ctx, 15, (o) => o.replicas.reduce((s, r) => s + r.kvUsage, 0) / 0.8, false);
    case "keda-queue":
      // KEDA prometheus trigger sum(vllm:num_requests_waiting), threshold 5 per replica, 30 s polling;
      // activation from the gateway's held-request queue (llm-d's flow-control metric) for 0 -> 1.
      return hpa(name, ctx, 30, (o) => o.replicas.reduce((s, r) => s + r.waiting, 0) / 5, ctx.scaleToZero);
    case "wva-saturation":
      return wva(ctx);
  }
}

function inferdPolicy(ctx: PolicyContext): Policy {
  const policy: PoolPolicy = {
    ...POOL_DEFAULTS,
    model: "bench",
    pool: "default",
    minReplicas: ctx.scaleToZero ? 0 : 1,
    maxReplicas: ctx.maxReplicas,
    ttftSeconds: ctx.slo.ttftSeconds,
    itlSeconds: ctx.slo.itlSeconds,
    percentile: ctx.slo.percentile,
    // The SLO percentile is p99 already: plan for the whole learned capacity.
    targetUtilization: 1,
    startupSeconds: ctx.startupSeconds,
    scaleToZero: ctx.scaleToZero,
    idleSeconds: 300,
  };
  const c = new PoolController(policy);
  return {
    name: "inferd",
    periodS: 1,
    arrival: (atMs) => c.arrival(atMs),
    finished: (o, atMs) =>
      c.finished({
        atMs,
        arrivedMs: o.arrivalMs,
        ttftSeconds: o.ttftSeconds,
        itlSeconds: o.itlSeconds,
        failed: o.failed,
      }),
    decide(o) {
      const n = o.replicas.length;
      const r = c.tick({
        nowMs: o.nowMs,
        ready: o.ready,
        starting: o.starting,
        waitingPerReplica: n > 0 ? o.replicas.reduce((s, x) => s + x.waiting, 0) / n : undefined,
        kvUsage: n > 0 ? o.replicas.reduce((s, x) => s + x.kvUsage, 0) / n : undefined,
        heldRequests: o.held,
      });
      return r.action?.desired;
    },
  };
}

/**
 * The HPA algorithm with its default behaviour: desired = ceil(metric total / target) with a 10%
 * tolerance; scale-up without stabilisation, at most max(100%, 4 pods) per 15 s; scale-down to
 * the highest recommendation of the last 300 s. `toZero` adds KEDA's activation: 0 <-> 1 on held
 * requests, to zero after KEDA's cooldownPeriod (300 s) without work.
 */
function hpa(
  name: string,
  ctx: PolicyContext,
  periodS: number,
  desiredFromMetric: (o: FleetObservation) => number,
  toZero: boolean,
): Policy {
  const recs: { t: number; n: number }[] = [];
  let lastBusyMs = 0;
  return {
    name,
    periodS,
    arrival: (atMs) => {
      lastBusyMs = atMs;
    },
    decide(o) {
      const current = o.ready + o.starting;
      if (toZero) {
        if (current === 0) return o.held > 0 ? 1 : undefined;
        if (o.nowMs - lastBusyMs >= 300_000 && o.held === 0) return 0;
      } else if (current === 0) return 1;
      if (o.ready === 0) return undefined;
      const raw = desiredFromMetric(o);
      const ratio = raw / o.ready;
      let rec = Math.abs(ratio - 1) <= 0.1 ? current : Math.ceil(raw - 1e-9);
      rec = Math.max(1, Math.min(ctx.maxReplicas, rec));
      recs.push({ t: o.nowMs, n: rec });
      while (recs.length > 0 && recs[0]!.t < o.nowMs - 300_000) recs.shift();
      if (rec > current) return Math.min(rec, current + Math.max(current, 4));
      const down = Math.max(...recs.map((r) => r.n));
      return down < current ? down : undefined;
    },
  };
}

/**
 * WVA's saturation analyzer (v0.5 defaults): a replica is saturated at KV >= 0.8 or queue >= 5;
 * +1 when the mean spare capacity of the non-saturated replicas is under 0.1 KV or 3 requests;
 * -1 when the load of N replicas spread over N-1 still leaves that spare; nothing while replicas
 * are starting; every 60 s (GLOBAL_OPT_INTERVAL), through an HPA with a 120 s down window.
 */
function wva(ctx: PolicyContext): Policy {
  const kvT = 0.8;
  const qT = 5;
  const kvSpare = 0.1;
  const qSpare = 3;
  let lastBusyMs = 0;
  let lastDownMs = Number.NEGATIVE_INFINITY;
  return {
    name: "wva-saturation",
    periodS: 60,
    arrival: (atMs) => {
      lastBusyMs = atMs;
    },
    decide(o) {
      const current = o.ready + o.starting;
      if (ctx.scaleToZero) {
        if (current === 0) return o.held > 0 ? 1 : undefined;
        // wva-model-scale-to-zero-config: retention period 10 min without a request.
        if (o.nowMs - lastBusyMs >= 600_000 && o.held === 0) return 0;
      } else if (current === 0) return 1;
      if (o.starting > 0 || o.ready === 0) return undefined;
      const free = o.replicas.filter((r) => r.kvUsage < kvT && r.waiting < qT);
      const spareKv = free.reduce((s, r) => s + (kvT - r.kvUsage), 0) / Math.max(1, free.length);
      const spareQ = free.reduce((s, r) => s + (qT - r.waiting), 0) / Math.max(1, free.length);
      if (free.length === 0 || spareKv < kvSpare || spareQ < qSpare)
        return Math.min(ctx.maxReplicas, current + 1);
      const n = o.replicas.length;
      const totalKv = o.replicas.reduce((s, r) => s + r.kvUsage, 0);
      const totalQ = o.replicas.reduce((s, r) => s + r.waiting, 0);
      if (
        free.length >= 2 &&
        n > 1 &&
        kvT - totalKv / (n - 1) >= kvSpare &&
        qT - totalQ / (n - 1) >= qSpare &&
        o.nowMs - lastDownMs >= 120_000
      ) {
        lastDownMs = o.nowMs;
        return current - 1;
      }
      return undefined;
    },
  };
}
