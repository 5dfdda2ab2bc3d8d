/**
 * Online linear regression over a fixed feature vector: recursive least squares with exponential
 * forgetting (Bayesian ridge with a drifting posterior), started from prior coefficients. O(d²) per
 * update with d ≈ 10; no batch store, no sidecar. The prior variance says how many samples it
 * takes to move away from the prior.
 */
export class OnlineRidge {
  readonly theta: number[];
  samples = 0;
  readonly #p: Float64Array;
  readonly #d: number;
  readonly #lambda: number;

  constructor(prior: readonly number[], priorVariance: number, forgetting: number) {
    this.#d = prior.length;
    this.theta = [...prior];
    this.#lambda = forgetting;
    this.#p = new Float64Array(this.#d * this.#d);
    for (let i = 0; i < this.#d; i++) this.#p[i * this.#d + i] = priorVariance;
  }

  /** A copy that continues learning on its own (a new server profile starts from its model's fit). */
  clone(): OnlineRidge {
    const c = new OnlineRidge(this.theta, 0, this.#lambda);
    c.#p.set(this.#p);
    c.samples = this.samples;
    return c;
  }

  predict(x: ArrayLike<number>): number {
    let y = 0;
    for (let i = 0; i < this.#d; i++) y += this.theta[i]! * x[i]!;
    return y;
  }

  update(x: ArrayLike<number>, y: number): void {
    const d = this.#d;
    const p = this.#p;
    const px = new Float64Array(d);
    let denom = this.#lambda;
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += p[i * d + j]! * x[j]!;
      px[i] = s;
      denom += x[i]! * s;
    }
    const err = y - this.predict(x);
    for (let i = 0; i < d; i++) this.theta[i]! += (px[i]! / denom) * err;
    let trace = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) p[i * d + j] = p[i * d + j]! - (px[i]! * px[j]!) / denom;
      trace += p[i * d + i]!;
    }
    // Without fresh excitation forgetting inflates P without bound ("wind-up"): stop dividing then.
    if (trace < 1e6) for (let k = 0; k < d * d; k++) p[k] = p[k]! / this.#lambda;
    this.samples++;
  }
}
