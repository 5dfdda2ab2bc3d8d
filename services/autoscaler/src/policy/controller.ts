import { CapacityModel } from "./capacity.ts";
import { RateForecast } from "./forecast.ts";
import type { PoolPolicy } from "./pool-policy.ts";
import { type FinishedSample, RequestWindow } from "./window.ts";

/** What the pool looks like now, from the inventory, EndpointLoad and Demand. */
export interface PoolSnapshot {
  readonly nowMs: number;
  /** Ready replicas and replicas that exist but are not ready yet. */
  readonly ready: number;
  readonly starting: number;
  /** Mean requests waiting per ready replica and mean KV-cache use (undefined = unknown). */
  readonly waitingPerReplica?: number | undefined;
  readonly kvUsage?: number | undefined;
  /** Requests gateways hold because the pool has no ready replica. */
  readonly heldRequests: number;
}

/** The observations behind a decision (ScaleInputs). */
export interface DecisionInputs {
  arrivalRps: number;
  forecastRps: number;
  ttftSeconds: number;
  itlSeconds: number;
  ttftTargetSeconds: number;
  itlTargetSeconds: number;
  waitingPerReplica: number;
  kvCacheUsage: number;
  capacityRpsPerReplica: number;
  heldRequests: number;
}

export interface ScaleAction {
  readonly desired: number;
  readonly current: number;
  readonly reason: string;
  readonly inputs: DecisionInputs;
}

/** What the controller would do now and why (also when it does nothing). */
export interface TickResult {
  readonly action: ScaleAction | undefined;
  /** Replicas the pool should have (the last decision, or the current count before any). */
  readonly desired: number;
  readonly inputs: DecisionInputs;
  /** Why no action was taken, when none was (for logs). */
  readonly held?: string;
}

const f1 = (x: number) => (Math.round(x * 10) / 10).toString();
const f2 = (x: number) => (Math.round(x * 100) / 100).toString();

/**
 * The decisions for one pool and role: learned capacity x forecast arrival rate -> replicas,
 * guarded by the SLO (a breach adds a replica even when the model says it is enough) and by
 * saturation; scale-up fast, scale-down slow through stabilisation windows, step limits and
 * cooldowns; at most one action in flight; 0 -> N at once on demand; -> 0 after idle when enabled.
 * Pure: time comes in with each call; the adapters feed events and publish the action.
 */
export class PoolController {
  readonly policy: PoolPolicy;
  readonly capacity: CapacityModel;
  readonly forecast = new RateForecast();
  readonly #window = new RequestWindow();
  #desired: number | undefined;
  #pending: { target: number; sinceMs: number } | undefined;
  #lastUpMs = Number.NEGATIVE_INFINITY;
  #lastActionMs = Number.NEGATIVE_INFINITY;
  /** When the ready count last changed: latency before that belongs to another pool size. */
  #readySinceMs = Number.NEGATIVE_INFINITY;
  #lastReady = -1;
  #startMs: number | undefined;
  readonly #recommendations: { atMs: number; n: number }[] = [];

  constructor(policy: PoolPolicy) {
    this.policy = policy;
    this.capacity = new CapacityModel({ priorRps: policy.initialCapacityRps });
  }

  arrival(atMs: number): void {
    this.#window.arrival(atMs);
  }

  finished(sample: FinishedSample): void {
    this.#window.finished(sample);
  }

  /** Keeps only the window (a standby follows the inputs without deciding). */
  trim(nowMs: number): void {
    this.#window.trim(nowMs, this.policy.windowSeconds * 1000);
  }

  get desired(): number | undefined {
    return this.#desired;
  }

  tick(s: PoolSnapshot): TickResult {
    const p = this.policy;
    const now = s.nowMs;
    this.#startMs ??= now;
    const windowMs = p.windowSeconds * 1000;
    this.#window.trim(now, windowMs);
    if (s.ready !== this.#lastReady) {
      this.#lastReady = s.ready;
      this.#readySinceMs = now;
    }
    const current = s.ready + s.starting;
    // The rate over a short span reacts to a burst within seconds; the forecast smooths it.
    const shortRate = this.#window.rate(now, Math.min(windowMs, 10_000, Math.max(1000, now - this.#startMs)));
    const windowRate = this.#window.rate(now, Math.min(windowMs, Math.max(1000, now - this.#startMs)));
    this.forecast.observe(now, shortRate);
    const forecastRps = this.forecast.at(p.startupSeconds);
    // Latency of requests that ran on the current pool size only.
    const settled = now - this.#readySinceMs >= windowMs / 2;
    const lat = this.#window.latency(p.percentile, this.#readySinceMs);
    const ratio = lat ? Math.max(lat.ttft / p.ttftSeconds, lat.itl / p.itlSeconds) : undefined;
    if (settled && lat && lat.samples >= 10 && s.ready > 0 && windowRate > 0) {
      this.capacity.observe(windowRate / s.ready, ratio!);
    }
    const cap = this.capacity.estimate();
    const inputs: DecisionInputs = {
      arrivalRps: shortRate,
      forecastRps,
      ttftSeconds: lat?.ttft ?? 0,
      itlSeconds: lat?.itl ?? 0,
      ttftTargetSeconds: p.ttftSeconds,
      itlTargetSeconds: p.itlSeconds,
      waitingPerReplica: s.waitingPerReplica ?? 0,
      kvCacheUsage: s.kvUsage ?? 0,
      capacityRpsPerReplica: cap ?? 0,
      heldRequests: s.heldRequests,
    };
    const none = (held: string): TickResult => ({
      action: undefined,
      desired: this.#desired ?? current,
      inputs,
      held,
    });

    // Scale-from-zero: answer held requests at once, whatever else is going on.
    if (s.ready === 0 && s.starting === 0 && (s.heldRequests > 0 || shortRate > 0)) {
      const want = Math.min(
        p.maxReplicas,
        Math.max(p.fromZeroReplicas, p.minReplicas, this.#need(shortRate, cap)),
      );
      // Already asked for (the replicas are not in the inventory yet): one action in flight.
      const pending = this.#pending;
      if (pending && pending.target >= want && now - pending.sinceMs < p.actionTimeoutSeconds * 1000)
        return none(`waiting for the last action (${pending.target} replicas) to show up in the inventory`);
      const why =
        s.heldRequests > 0
          ? `${s.heldRequests} request(s) held by gateways while the pool has no ready replica`
          : `${f1(shortRate)} req/s arriving while the pool has no replica`;
      return this.#act(now, want, current, `scale from zero 0 -> ${want}: ${why}`, inputs);
    }

    if (this.#pending !== undefined) {
      const t = this.#pending.target;
      const done = t >= current ? s.ready >= t : current <= t;
      if (done) this.#pending = undefined;
      else if (now - this.#pending.sinceMs >= p.actionTimeoutSeconds * 1000) this.#pending = undefined;
      else
        return none(
          `waiting for the last action (${t} replicas) to complete: ${s.ready} ready, ${s.starting} starting`,
        );
    }

    // What the pool needs now.
    const reasons: string[] = [];
    let load = Math.max(shortRate, forecastRps);
    // A scale-up while arrivals are surging: the smoothed forecast lags a surge, and with one
    // action in flight the first step must be big enough. Project the slope from the 30 s before
    // to the last 5 s over the start-up time (at most 30 s of it: a surge does not grow for ever).
    const fast = this.#window.rateBetween(now - 5000, now);
    const before = this.#window.rateBetween(now - 35_000, now - 5000);
    let surge = false;
    const history = now - (this.#startMs ?? now) >= 35_000;
    if (history && cap !== undefined && this.#need(load, cap) > current && fast > 1.3 * before) {
      const projected = fast + ((fast - before) / 17.5) * Math.min(p.startupSeconds, 30);
      if (projected > load) {
        load = projected;
        surge = true;
      }
    }
    let rec = current;
    if (cap !== undefined && cap > 0) {
      rec = this.#need(load, cap);
      reasons.push(
        `${f1(load)} req/s (now ${f1(shortRate)}, ${surge ? `surging from ${f1(before)} to ${f1(fast)}` : `forecast ${f1(forecastRps)} at +${p.startupSeconds} s`}) over ${f2(cap)} req/s per replica learned at the SLO x ${p.targetUtilization} utilisation needs ${rec}`,
      );
    }
    if (settled && lat && ratio! > 1 && s.ready > 0) {
      const worse =
        lat.ttft / p.ttftSeconds >= lat.itl / p.itlSeconds
          ? `TTFT p${Math.round(p.percentile * 100)} ${f2(lat.ttft)} s over the ${p.ttftSeconds} s target`
          : `ITL p${Math.round(p.percentile * 100)} ${Math.round(lat.itl * 1000)} ms over the ${Math.round(p.itlSeconds * 1000)} ms target`;
      if (rec <= current) rec = current + 1;
      reasons.unshift(worse);
    }
    if (s.waitingPerReplica !== undefined && s.waitingPerReplica > p.queueThreshold && s.ready > 0) {
      if (rec <= current) rec = current + 1;
      reasons.unshift(
        `${f1(s.waitingPerReplica)} requests waiting per replica (threshold ${p.queueThreshold})`,
      );
    }
    const lastArrival = this.#window.lastArrivalMs;
    // Idle since the last arrival, or since start when there has been none.
    const idleMs = now - (Number.isFinite(lastArrival) ? lastArrival : this.#startMs);
    if (p.scaleToZero && s.heldRequests === 0 && idleMs >= p.idleSeconds * 1000) {
      rec = 0;
      reasons.splice(
        0,
        reasons.length,
        `no request for ${Math.round(idleMs / 1000)} s (idle limit ${p.idleSeconds} s)`,
      );
    } else {
      if (load > 0 || s.heldRequests > 0) rec = Math.max(rec, 1);
      if (rec < p.minReplicas && reasons.length === 0) reasons.push(`minReplicas is ${p.minReplicas}`);
      rec = Math.max(rec, p.minReplicas);
    }
    if (rec > p.maxReplicas) {
      reasons.push(`capped at maxReplicas ${p.maxReplicas}`);
      rec = p.maxReplicas;
    }

    // Stabilisation: scale up to the lowest, down to the highest recommendation of its window.
    this.#recommendations.push({ atMs: now, n: rec });
    const keep = Math.max(p.scaleUpStabilizationSeconds, p.scaleDownStabilizationSeconds) * 1000;
    while (this.#recommendations.length > 0 && this.#recommendations[0]!.atMs < now - keep)
      this.#recommendations.shift();
    const within = (sec: number) =>
      this.#recommendations.filter((r) => r.atMs >= now - sec * 1000).map((r) => r.n);
    let target = current;
    if (rec > current) {
      target = Math.min(...within(p.scaleUpStabilizationSeconds), rec);
      if (now - this.#lastUpMs < p.scaleUpCooldownSeconds * 1000) return none("scale-up cooldown");
      if (target - current > p.scaleUpMaxStep) {
        reasons.push(`step limited to +${p.scaleUpMaxStep}`);
        target = current + p.scaleUpMaxStep;
      }
    } else if (rec < current) {
      const down = rec === 0 ? [rec] : within(p.scaleDownStabilizationSeconds);
      // The window must be full before a scale-down: a pool that just changed waits it out.
      const sinceStart = now - (this.#startMs ?? now);
      if (rec > 0 && sinceStart < p.scaleDownStabilizationSeconds * 1000)
        return none("scale-down stabilisation window not full yet");
      target = Math.max(...down, rec);
      if (target >= current)
        return none(`a higher recommendation within the last ${p.scaleDownStabilizationSeconds} s`);
      if (now - this.#lastActionMs < p.scaleDownCooldownSeconds * 1000) return none("scale-down cooldown");
      if (current - target > p.scaleDownMaxStep && target > 0) {
        reasons.push(`step limited to -${p.scaleDownMaxStep}`);
        target = current - p.scaleDownMaxStep;
      }
    }
    if (target === current) {
      this.#desired = current;
      return none("the pool has the replicas it needs");
    }
    const verb = target > current ? "scale up" : "scale down";
    return this.#act(now, target, current, `${verb} ${current} -> ${target}: ${reasons.join("; ")}`, inputs);
  }

  #need(load: number, cap: number | undefined): number {
    if (cap === undefined || !(cap > 0)) return 0;
    return Math.ceil(load / (cap * this.policy.targetUtilization) - 1e-9);
  }

  #act(now: number, target: number, current: number, reason: string, inputs: DecisionInputs): TickResult {
    this.#desired = target;
    this.#pending = { target, sinceMs: now };
    this.#lastActionMs = now;
    if (target > current) this.#lastUpMs = now;
    const action: ScaleAction = { desired: target, current, reason, inputs };
    return { action, desired: target, inputs };
  }
}
