/**
 * Short-term arrival-rate forecast: Holt's linear smoothing (level + trend) with time constants in
 * seconds, so the result does not depend on how often it is fed. A ramp is met before it breaches:
 * the controller plans for the rate one replica start-up ahead. Pure.
 */
export class RateForecast {
  #level: number | undefined;
  #trend = 0;
  #lastMs = 0;
  readonly #levelTau: number;
  readonly #trendTau: number;

  constructor(options: { levelTauSeconds?: number; trendTauSeconds?: number } = {}) {
    this.#levelTau = options.levelTauSeconds ?? 15;
    this.#trendTau = options.trendTauSeconds ?? 60;
  }

  observe(nowMs: number, rps: number): void {
    if (this.#level === undefined) {
      this.#level = rps;
      this.#lastMs = nowMs;
      return;
    }
    const dt = (nowMs - this.#lastMs) / 1000;
    if (dt <= 0) return;
    this.#lastMs = nowMs;
    const a = 1 - Math.exp(-dt / this.#levelTau);
    const b = 1 - Math.exp(-dt / this.#trendTau);
    const predicted = this.#level + this.#trend * dt;
    const level = predicted + a * (rps - predicted);
    this.#trend += b * ((level - this.#level) / dt - this.#trend);
    this.#level = level;
  }

  /** Rate expected `horizonSeconds` from now (never below 0). */
  at(horizonSeconds: number): number {
    if (this.#level === undefined) return 0;
    return Math.max(0, this.#level + this.#trend * horizonSeconds);
  }

  get trend(): number {
    return this.#trend;
  }
}
