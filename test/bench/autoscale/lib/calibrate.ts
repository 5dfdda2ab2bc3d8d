/**
 * What one replica sustains at the SLO: the highest constant rate (bisection, 0.1 req/s apart) at
 * which a single simulated replica still meets the SLO for >= 99% of requests over 5 minutes.
 * static-peak provisions ceil(peak / this) replicas.
 */
import type { Slo } from "./policies.ts";
import { runOne } from "./run.ts";
import type { Trace } from "./traces.ts";

export function replicaCapacity(profile: string, slo: Slo, seed: number): number {
  const at = (rps: number) => {
    const trace: Trace = { name: "calibration", durationS: 300, peakRps: rps, rate: () => rps };
    return runOne(
      trace,
      "static-peak",
      { slo, maxReplicas: 1, startupSeconds: 0, staticReplicas: 1 },
      { profile, seed, holdSeconds: 60, initialReplicas: 1 },
    ).sloAttainment;
  };
  let lo = 0.5;
  let hi = 20;
  while (hi - lo > 0.1) {
    const mid = (lo + hi) / 2;
    if (at(mid) >= 0.99) lo = mid;
    else hi = mid;
  }
  return lo;
}
