import type { Slo } from "./options.ts";
import type { StageResult } from "./results.ts";

export interface StageVerdict {
  readonly pass: boolean;
  /**
   * How close the stage is to the SLO: max(TTFT p90 / limit, ITL p90 / limit), and
   * infinity when the success rate is below the minimum or nothing succeeded. <= 1 passes.
   */
  readonly pressure: number;
  readonly reasons: readonly string[];
}

export function judgeStage(s: StageResult, slo: Slo): StageVerdict {
  const reasons: string[] = [];
  if (!(s.successRate >= slo.minSuccess)) reasons.push(`success ${(s.successRate * 100).toFixed(1)}%`);
  if (!(s.ttft.p90 <= slo.ttftP90)) reasons.push(`TTFT p90 ${s.ttft.p90.toFixed(2)}s`);
  if (!(s.itl.p90 <= slo.itlP90)) reasons.push(`ITL p90 ${(s.itl.p90 * 1000).toFixed(0)}ms`);
  const latency = Math.max(s.ttft.p90 / slo.ttftP90, s.itl.p90 / slo.itlP90);
  const pressure =
    s.successRate >= slo.minSuccess && Number.isFinite(latency) ? latency : Number.POSITIVE_INFINITY;
  return { pass: reasons.length === 0, pressure, reasons };
}

export interface Capacity {
  /** Highest ladder rate that met the SLO with every lower rate also meeting it; 0 if the first failed. */
  readonly rps: number;
  /**
   * Between the last passing and the first failing rate, where the SLO pressure crosses 1 (linear);
   * equals rps when there is no failing rate after it (capacity is at least the highest rate tried).
   */
  readonly interpolatedRps: number;
  /** True when every rate tried passed: the real capacity is higher than measured. */
  readonly censored: boolean;
}

/** SLO capacity of one policy from its ladder (rates ascending; warm-up excluded by the caller). */
export function sloCapacity(stages: readonly StageResult[], slo: Slo): Capacity {
  const sorted = stages.filter((s) => !s.warmup).sort((a, b) => a.rate - b.rate);
  let lastPass: { rate: number; pressure: number } | null = null;
  for (const s of sorted) {
    const v = judgeStage(s, slo);
    if (v.pass) {
      lastPass = { rate: s.rate, pressure: v.pressure };
      continue;
    }
    if (lastPass === null) {
      // Failed from the first rate: interpolate from (0, pressure 0) only when the failure is a latency one.
      const x = Number.isFinite(v.pressure) && v.pressure > 0 ? s.rate / v.pressure : 0;
      return { rps: 0, interpolatedRps: Math.min(x, s.rate), censored: false };
    }
    const p2 = Number.isFinite(v.pressure) ? v.pressure : Number.POSITIVE_INFINITY;
    const frac =
      Number.isFinite(p2) && p2 > lastPass.pressure ? (1 - lastPass.pressure) / (p2 - lastPass.pressure) : 0;
    return {
      rps: lastPass.rate,
      interpolatedRps: lastPass.rate + Math.max(0, Math.min(1, frac)) * (s.rate - lastPass.rate),
      censored: false,
    };
  }
  if (lastPass === null) return { rps: 0, interpolatedRps: 0, censored: false };
  return { rps: lastPass.rate, interpolatedRps: lastPass.rate, censored: true };
}

/** a / b, NaN when b is 0 or either is not finite. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN;
}
