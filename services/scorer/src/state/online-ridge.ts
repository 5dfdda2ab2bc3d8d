import { solveBoundedQuadratic } from "./bounded-least-squares.ts";

/**
 * Online linear regression over a fixed feature vector with sign constraints: exponentially
 * forgotten least squares (recent samples weigh most, so the fit follows load and hardware changes),
 * pulled towards prior coefficients by a ridge term that does not fade, and solved exactly under
 * `coefficient ≥ 0` for the features named non-negative.
 *
 * Why constrained: the router trains the model on its own decisions, where the busiest server is
 * usually the one holding the prompt's prefix. An unconstrained fit then learns that load *lowers*
 * TTFT, and ranking by it sends every cold prompt to the busiest server (the herd after a
 * fleet-wide prefix-cache reset). Physically, more queued work never makes a request faster.
 *
 * Why not recursive least squares: its O(d²) update cannot hold a constraint (projecting after
 * each step diverged). Keeping the forgotten Gram matrix and re-solving (d ≈ 10: an active-set
 * solve of a few 10×10 Cholesky factorisations) costs a few microseconds per sample.
 */
export class OnlineRidge {
  readonly theta: number[];
  samples = 0;
  readonly #d: number;
  readonly #lambda: number;
  /** Σ λ^(n-i) x xᵀ over the samples seen (row-major d×d). */
  readonly #gram: Float64Array;
  /** Σ λ^(n-i) x y. */
  readonly #xy: Float64Array;
  readonly #prior: readonly number[];
  readonly #priorPrecision: number;
  readonly #nonNegative: readonly boolean[];

  constructor(
    prior: readonly number[],
    priorVariance: number,
    forgetting: number,
    opts: { nonNegative?: readonly number[] } = {},
  ) {
    this.#d = prior.length;
    this.#prior = [...prior];
    this.#priorPrecision = 1 / priorVariance;
    this.#lambda = forgetting;
    this.#gram = new Float64Array(this.#d * this.#d);
    this.#xy = new Float64Array(this.#d);
    const nonNegative = new Array<boolean>(this.#d).fill(false);
    for (const i of opts.nonNegative ?? []) {
      if (!Number.isInteger(i) || i < 0 || i >= this.#d) throw new RangeError(`no feature ${i} to constrain`);
      if (prior[i]! < 0)
        throw new RangeError(`prior coefficient ${i} is negative but constrained non-negative`);
      nonNegative[i] = true;
    }
    this.#nonNegative = nonNegative;
    this.theta = [...prior];
  }

  /** A copy that continues learning on its own (a new server profile starts from its model's fit). */
  clone(): OnlineRidge {
    const nonNegative = this.#nonNegative.flatMap((c, i) => (c ? [i] : []));
    const c = new OnlineRidge(this.#prior, 1 / this.#priorPrecision, this.#lambda, { nonNegative });
    c.#gram.set(this.#gram);
    c.#xy.set(this.#xy);
    c.theta.splice(0, this.#d, ...this.theta);
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
    const g = this.#gram;
    const lambda = this.#lambda;
    for (let i = 0; i < d; i++) {
      const xi = x[i]!;
      this.#xy[i] = lambda * this.#xy[i]! + xi * y;
      for (let j = 0; j < d; j++) g[i * d + j] = lambda * g[i * d + j]! + xi * x[j]!;
    }
    this.samples++;
    this.#solve();
  }

  /** θ = argmin Σ λ^(n-i) (y_i − θ·x_i)² + |θ − prior|² / priorVariance, with the constrained θ_j ≥ 0. */
  #solve(): void {
    const d = this.#d;
    const a = new Float64Array(this.#gram);
    const b = new Float64Array(this.#xy);
    for (let i = 0; i < d; i++) {
      a[i * d + i]! += this.#priorPrecision;
      b[i]! += this.#priorPrecision * this.#prior[i]!;
    }
    const theta = solveBoundedQuadratic(a, b, this.#nonNegative, this.theta);
    for (let i = 0; i < d; i++) this.theta[i] = theta[i]!;
  }
}
