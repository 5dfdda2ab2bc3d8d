/**
 * Arrival traces: a rate curve (req/s over time) turned into Poisson arrivals with seeded prompt
 * and output lengths. Traces: a diurnal day scaled into `durationS`, a step burst x4 within 30 s,
 * a slow ramp, and an idle period between two busy ones (scale-to-zero and back).
 */
import { Prng } from "../../routing/lib/prng.ts";

export interface Arrival {
  readonly atMs: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
}

export interface Trace {
  readonly name: string;
  readonly durationS: number;
  /** Requests per second at time t (s). */
  rate(t: number): number;
  readonly peakRps: number;
  /** When the burst starts (burst trace only), s. */
  readonly burstAtS?: number;
  /** Whether policies may scale to zero on this trace. */
  readonly scaleToZero?: boolean;
}

export const TRACE_NAMES = ["diurnal", "burst", "ramp", "idle"] as const;
export type TraceName = (typeof TRACE_NAMES)[number];

/** `peak` req/s at the busiest time; `scale` multiplies every duration (quick runs use < 1). */
export function makeTrace(name: TraceName, peak: number, scale: number): Trace {
  const low = peak / 6;
  switch (name) {
    case "diurnal": {
      // Night at the ends, the peak mid-day, a shoulder in the morning.
      const d = Math.round(7200 * scale);
      return {
        name,
        durationS: d,
        peakRps: peak,
        rate: (t) => {
          const x = t / d;
          const day = (1 - Math.cos(2 * Math.PI * x)) / 2;
          const shoulder = 0.15 * Math.exp(-(((x - 0.3) / 0.06) ** 2));
          return low + (peak - low) * Math.min(1, day * 0.9 + shoulder);
        },
      };
    }
    case "burst": {
      const d = Math.round(2400 * scale);
      const at = Math.round(d / 3);
      const base = peak / 4;
      return {
        name,
        durationS: d,
        peakRps: peak,
        burstAtS: at,
        rate: (t) => {
          if (t < at || t > at + d / 3) return base;
          return base + (peak - base) * Math.min(1, (t - at) / 30);
        },
      };
    }
    case "ramp": {
      const d = Math.round(3600 * scale);
      return {
        name,
        durationS: d,
        peakRps: peak,
        rate: (t) => low + (peak - low) * Math.min(1, t / (d * 0.8)),
      };
    }
    case "idle": {
      const d = Math.round(3600 * scale);
      const busy = d / 6;
      return {
        name,
        durationS: d,
        peakRps: peak / 2,
        scaleToZero: true,
        rate: (t) => (t < busy || t > d - busy ? peak / 2 : 0),
      };
    }
  }
}

/** Poisson arrivals (thinning over the rate curve); prompts 1000-4000 tokens, outputs 100-300. */
export function arrivals(trace: Trace, seed: number): Arrival[] {
  const rng = new Prng(`${trace.name}:${seed}`);
  const out: Arrival[] = [];
  const max = trace.peakRps * 1.05;
  let t = 0;
  for (;;) {
    t += rng.exp(max);
    if (t >= trace.durationS) break;
    if (rng.next() * max > trace.rate(t)) continue;
    out.push({
      atMs: t * 1000,
      promptTokens: 1000 + rng.int(3001),
      outputTokens: 100 + rng.int(201),
    });
  }
  return out;
}
