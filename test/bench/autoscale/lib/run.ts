/**
 * One run: a trace through the fleet under one policy, in virtual time. The policy decides on its
 * own period; the fleet actuates at once (the start-up delay is the fleet's). Returns the figures
 * of the report and a timeline (per 30 s) for the charts.
 */
import { Fleet, type RequestOutcome } from "./fleet.ts";
import { makePolicy, type PolicyContext, type PolicyName, type Slo } from "./policies.ts";
import { arrivals, type Trace } from "./traces.ts";

export interface RunResult {
  readonly trace: string;
  readonly policy: string;
  readonly startupSeconds: number;
  readonly requests: number;
  readonly sloAttainment: number;
  readonly replicaHours: number;
  readonly scalingActions: number;
  /** Burst trace: from the burst's start to the arrival of the last request that missed the SLO, s. */
  readonly recoverySeconds: number | undefined;
  readonly timeline: TimelinePoint[];
  readonly cpuSeconds: number;
}

export interface TimelinePoint {
  readonly t: number;
  readonly replicas: number;
  readonly ready: number;
  readonly rps: number;
  readonly ttftP90: number;
  readonly attainment: number;
}

export function meets(o: RequestOutcome, slo: Slo): boolean {
  return !o.failed && o.ttftSeconds <= slo.ttftSeconds && o.itlSeconds <= slo.itlSeconds;
}

export function runOne(
  trace: Trace,
  policyName: PolicyName,
  ctx: Omit<PolicyContext, "scaleToZero">,
  options: { profile: string; seed: number; holdSeconds: number; initialReplicas: number },
): RunResult {
  const cpu0 = process.cpuUsage();
  const policy = makePolicy(policyName, { ...ctx, scaleToZero: trace.scaleToZero === true });
  const fleet = new Fleet({
    profile: options.profile,
    startupSeconds: ctx.startupSeconds,
    seed: options.seed,
    holdSeconds: options.holdSeconds,
    initialReplicas: policyName === "static-peak" ? ctx.staticReplicas : options.initialReplicas,
  });
  fleet.listen(policy);
  const list = arrivals(trace, options.seed);
  const bucketMs = 30_000;
  const timeline: TimelinePoint[] = [];
  let i = 0;
  let nextDecision = 0;
  for (let t = 0; t < trace.durationS * 1000; t += 1000) {
    while (i < list.length && list[i]!.atMs < t + 1000) {
      fleet.advanceTo(list[i]!.atMs);
      fleet.arrive(list[i]!);
      i++;
    }
    fleet.advanceTo(t + 1000);
    if (t + 1000 >= nextDecision) {
      nextDecision += policy.periodS * 1000;
      const n = policy.decide(fleet.observe());
      if (n !== undefined) fleet.scaleTo(n);
    }
    if ((t + 1000) % bucketMs === 0) {
      const o = fleet.observe();
      timeline.push({
        t: (t + 1000) / 1000,
        replicas: fleet.size,
        ready: o.ready,
        rps: 0,
        ttftP90: 0,
        attainment: 0,
      });
    }
  }
  fleet.drain(trace.durationS * 1000 + 900_000);

  // Per-bucket figures by arrival time.
  const byBucket = new Map<number, RequestOutcome[]>();
  for (const o of fleet.outcomes) {
    const b = Math.floor(o.arrivalMs / bucketMs);
    const xs = byBucket.get(b);
    if (xs) xs.push(o);
    else byBucket.set(b, [o]);
  }
  for (const p of timeline) {
    const xs = byBucket.get((p.t * 1000) / bucketMs - 1) ?? [];
    const ttfts = xs
      .filter((o) => !o.failed)
      .map((o) => o.ttftSeconds)
      .sort((a, b) => a - b);
    Object.assign(p, {
      rps: xs.length / (bucketMs / 1000),
      ttftP90: ttfts.length ? ttfts[Math.min(ttfts.length - 1, Math.ceil(0.9 * ttfts.length) - 1)]! : 0,
      attainment: xs.length ? xs.filter((o) => meets(o, ctx.slo)).length / xs.length : 1,
    });
  }
  const met = fleet.outcomes.filter((o) => meets(o, ctx.slo)).length;
  let recoverySeconds: number | undefined;
  if (trace.burstAtS !== undefined) {
    const start = trace.burstAtS * 1000;
    const missed = fleet.outcomes.filter(
      (o) => o.arrivalMs >= start && o.arrivalMs < start + (trace.durationS * 1000) / 3 && !meets(o, ctx.slo),
    );
    recoverySeconds = missed.length ? (Math.max(...missed.map((o) => o.arrivalMs)) - start) / 1000 : 0;
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    trace: trace.name,
    policy: policyName,
    startupSeconds: ctx.startupSeconds,
    requests: list.length,
    sloAttainment: list.length ? met / list.length : 1,
    replicaHours: fleet.replicaHours,
    scalingActions: fleet.actions,
    recoverySeconds,
    timeline,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}
