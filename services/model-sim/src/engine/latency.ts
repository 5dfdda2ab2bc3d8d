import type { Rng } from "./rng.ts";

/**
 * Per-step cost model (reference simulator-and-benchmarks.md §6):
 *   Δ = s0 + a·P + q·Σ new_i·(h_i + new_i/2) + d·D + c·K, then × (1 + ε), ε ~ N(0, σ) truncated at ±3σ.
 * P = prefill tokens this step, (h_i, new_i) = context already computed and new tokens of each prefill
 * chunk, D = decode sequences, K = Σ context length of the decode sequences. All coefficients in seconds.
 */
export interface LatencyProfile {
  readonly name: string;
  readonly description: string;
  /** Fixed cost per step (weights read, kernel launches), s. */
  readonly s0: number;
  /** Linear prefill cost, s per token. */
  readonly a: number;
  /** Attention prefill cost, s per token² (chunk tokens × context). */
  readonly q: number;
  /** Per decode sequence, s. */
  readonly d: number;
  /** Per context token read by decode sequences, s. */
  readonly c: number;
  /** Relative std-dev of the step jitter. */
  readonly sigma: number;
  /** Tensor-parallel size the profile models (reported as NixlConnector tp_size). */
  readonly tpSize: number;
}

export interface StepShape {
  /** One entry per prefill chunk: tokens already computed before it and tokens it computes. */
  readonly prefill: ReadonlyArray<{ readonly context: number; readonly tokens: number }>;
  readonly decodeSeqs: number;
  readonly decodeContextTokens: number;
}

/** Deterministic part of the step time, in seconds. */
export function stepSeconds(p: LatencyProfile, s: StepShape): number {
  let prefillTokens = 0;
  let attn = 0;
  for (const c of s.prefill) {
    prefillTokens += c.tokens;
    attn += c.tokens * (c.context + c.tokens / 2);
  }
  return p.s0 + p.a * prefillTokens + p.q * attn + p.d * s.decodeSeqs + p.c * s.decodeContextTokens;
}

/** Step time with seeded jitter, in seconds. */
export function jitteredStepSeconds(p: LatencyProfile, s: StepShape, rng: Rng): number {
  const base = stepSeconds(p, s);
  if (p.sigma <= 0) return base;
  const eps = Math.max(-3, Math.min(3, rng.normal())) * p.sigma;
  return base * (1 + eps);
}

/**
 * Named profiles. Calibration notes:
 * - llama-8b-h100: Dynamo mocker polynomial (8192-token prefill ≈ 169 ms, quadratic 4.21e-7·T² ms ⇒
 *   q ≈ 0.84 ns), decode ITL ≈ 8 ms at batch 1 rising to ~15–20 ms with a busy batch (llm-d-inference-sim
 *   8B/H100 profile: ITL 12 ms ± 2).
 * - qwen3-32b-h100-tp2: llm-d calibration, one 8192-token chunk ≈ 0.40 s (R_peak ≈ 20k tok/s);
 *   attention cost ≈ 2× the 8B per GPU (64 layers × 8192 dims / TP2); KV read ≈ 128 KB/token/GPU.
 * - tiny-fast: for tests and demos on a laptop; not calibrated to any hardware.
 */
export const PROFILES: Readonly<Record<string, LatencyProfile>> = {
  "llama-8b-h100": {
    name: "llama-8b-h100",
    description: "8B-class model on one H100 (80 GB)",
    s0: 0.007,
    a: 16e-6,
    q: 0.84e-9,
    d: 0.03e-3,
    c: 60e-9,
    sigma: 0.04,
    tpSize: 1,
  },
  "qwen3-32b-h100-tp2": {
    name: "qwen3-32b-h100-tp2",
    description: "Qwen3-32B on two H100s (TP2); one 8192-token prefill chunk ≈ 0.40 s",
    s0: 0.02,
    a: 39.5e-6,
    q: 1.7e-9,
    d: 0.05e-3,
    c: 75e-9,
    sigma: 0.04,
    tpSize: 2,
  },
  "tiny-fast": {
    name: "tiny-fast",
    description: "fast toy profile for tests and demos (2 ms steps)",
    s0: 0.002,
    a: 1e-6,
    q: 0,
    d: 0.01e-3,
    c: 1e-9,
    sigma: 0.02,
    tpSize: 1,
  },
};

export const DEFAULT_PROFILE = "qwen3-32b-h100-tp2";

export function getProfile(name: string): LatencyProfile {
  const p = PROFILES[name];
  if (!p) throw new Error(`unknown latency profile "${name}" (known: ${Object.keys(PROFILES).join(", ")})`);
  return p;
}
