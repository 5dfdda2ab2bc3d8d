import type { OnlineRidge } from "./online-ridge.ts";

/**
 * A regression that answers from a few core features until it has seen enough samples to trust all
 * of them. Both fits learn from every sample; predictions switch to the full fit at `minSamples`.
 *
 * Why: with a handful of samples the full fit's ten weights are barely determined, and one slow
 * request that happened to run beside another can put hundreds of milliseconds on "a request in
 * flight". Ranking by that broke prefix stickiness on an idle fleet right after start. The core fit
 * (fixed cost, tokens to prefill, prefill queued ahead) is what the linear TTFT fit was: a few
 * samples pin it down.
 */
export class WarmingRegression {
  readonly full: OnlineRidge;
  readonly core: OnlineRidge;
  readonly #coreIndices: readonly number[];
  readonly #minSamples: number;
  readonly #coreX: Float64Array;

  constructor(full: OnlineRidge, core: OnlineRidge, coreIndices: readonly number[], minSamples: number) {
    this.full = full;
    this.core = core;
    this.#coreIndices = coreIndices;
    this.#minSamples = minSamples;
    this.#coreX = new Float64Array(coreIndices.length);
  }

  get samples(): number {
    return this.full.samples;
  }

  /** The weights predictions use now (the full fit's, or the core fit's in the full fit's positions). */
  get theta(): number[] {
    if (this.warm) return [...this.full.theta];
    const theta = new Array<number>(this.full.theta.length).fill(0);
    this.#coreIndices.forEach((j, k) => {
      theta[j] = this.core.theta[k]!;
    });
    return theta;
  }

  get warm(): boolean {
    return this.full.samples >= this.#minSamples;
  }

  predict(x: ArrayLike<number>): number {
    if (this.warm) return this.full.predict(x);
    let y = 0;
    const theta = this.core.theta;
    for (let k = 0; k < this.#coreIndices.length; k++) y += theta[k]! * x[this.#coreIndices[k]!]!;
    return y;
  }

  update(x: ArrayLike<number>, y: number): void {
    this.full.update(x, y);
    for (let k = 0; k < this.#coreIndices.length; k++) this.#coreX[k] = x[this.#coreIndices[k]!]!;
    this.core.update(this.#coreX, y);
  }

  clone(): WarmingRegression {
    return new WarmingRegression(this.full.clone(), this.core.clone(), this.#coreIndices, this.#minSamples);
  }
}
