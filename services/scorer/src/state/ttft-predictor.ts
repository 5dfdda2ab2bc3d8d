import type { TtftModel } from "../framework/handle.ts";
import type { LatencyFeatures } from "./latency-model.ts";

export interface TtftPrior {
  /** Fixed cost before prefill starts (scheduling, first decode step), ms. */
  overheadMs: number;
  /** Prefill throughput of one server, tokens per second. */
  prefillTokensPerSecond: number;
}

export interface TtftSample {
  model: string;
  uncachedTokens: number;
  queuedPrefillTokens: number;
  ttftMs: number;
}

const DIM = 3;

/**
 * Online TTFT model per base model: `ttft = a + b * uncached + c * queued` (token counts in thousands),
 * fitted by recursive least squares with exponential forgetting (so it follows load and hardware
 * changes) and started from a prior (overhead, prefill throughput) so it predicts sensibly before the
 * first observation. Every scorer replica sees the same TTFT observations (lifecycle events), so they
 * converge to the same model.
 */
export class TtftPredictor implements TtftModel {
  private readonly prior: TtftPrior;
  private readonly lambda: number;
  private readonly models = new Map<string, Rls>();

  constructor(prior: TtftPrior, forgetting = 0.995) {
    this.prior = prior;
    this.lambda = forgetting;
  }

  predictTtftMs(model: string, _profile: string, f: LatencyFeatures): number {
    return this.predictMs(model, f.uncachedTokens, f.queuedPrefillTokens);
  }

  predictMs(model: string, uncachedTokens: number, queuedPrefillTokens: number): number {
    const theta = this.models.get(model)?.theta ?? this.priorTheta();
    // Negative slopes can appear transiently from noisy data; they would reward long prompts.
    const a = Math.max(0, theta[0]!);
    const b = Math.max(0, theta[1]!);
    const c = Math.max(0, theta[2]!);
    return a + (b * uncachedTokens) / 1000 + (c * queuedPrefillTokens) / 1000;
  }

  observe(sample: TtftSample): void {
    if (!(sample.ttftMs >= 0) || !Number.isFinite(sample.ttftMs)) return;
    let m = this.models.get(sample.model);
    if (!m) {
      m = new Rls(this.priorTheta());
      this.models.set(sample.model, m);
    }
    m.update(
      [1, sample.uncachedTokens / 1000, sample.queuedPrefillTokens / 1000],
      sample.ttftMs,
      this.lambda,
    );
  }

  /** Current coefficients [overheadMs, ms per 1k uncached tokens, ms per 1k queued tokens] and sample count. */
  coefficients(model: string): { theta: number[]; samples: number } {
    const m = this.models.get(model);
    return { theta: [...(m?.theta ?? this.priorTheta())], samples: m?.samples ?? 0 };
  }

  private priorTheta(): number[] {
    const msPerK = 1e6 / this.prior.prefillTokensPerSecond;
    return [this.prior.overheadMs, msPerK, msPerK];
  }
}

class Rls {
  readonly theta: number[];
  samples = 0;
  private readonly p: number[][];

  constructor(theta: number[]) {
    this.theta = [...theta];
    // Prior variance: loose enough that a few dozen samples dominate the prior.
    const v = [1e4, 1e4, 1e4];
    this.p = Array.from({ length: DIM }, (_, i) =>
      Array.from({ length: DIM }, (_, j) => (i === j ? v[i]! : 0)),
    );
  }

  update(x: number[], y: number, lambda: number): void {
    const px = this.p.map((row) => row.reduce((s, v, j) => s + v * x[j]!, 0));
    const denom = lambda + x.reduce((s, v, i) => s + v * px[i]!, 0);
    const k = px.map((v) => v / denom);
    const err = y - x.reduce((s, v, i) => s + v * this.theta[i]!, 0);
    for (let i = 0; i < DIM; i++) this.theta[i]! += k[i]! * err;
    // P = (P - k (x^T P)) / lambda; x^T P = px^T since P is symmetric.
    let trace = 0;
    for (let i = 0; i < DIM; i++) {
      for (let j = 0; j < DIM; j++) this.p[i]![j] = this.p[i]![j]! - k[i]! * px[j]!;
      trace += this.p[i]![i]!;
    }
    // Without fresh excitation forgetting inflates P without bound ("wind-up"); stop dividing then.
    if (trace < 1e6) for (const row of this.p) for (let j = 0; j < DIM; j++) row[j] = row[j]! / lambda;
    this.samples++;
  }
}
