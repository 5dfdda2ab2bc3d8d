/**
 * Seeded pseudo-random numbers for trace generation. Every policy replays the same pre-generated
 * trace, so all randomness of the workload comes from here (never Math.random).
 *
 * sfc32 seeded through splitmix32: fast, 128-bit state, good enough statistically for workloads.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | string) {
    let s = typeof seed === "number" ? seed >>> 0 : hashString(seed);
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0)
      throw new RangeError(`Prng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Exponential with the given rate (mean 1/rate): Poisson inter-arrival gaps. */
  exp(rate: number): number {
    if (!(rate > 0)) throw new RangeError(`Prng.exp: rate must be > 0, got ${rate}`);
    // 1 - next() is in (0, 1], so the log is finite.
    return -Math.log(1 - this.next()) / rate;
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** An independent stream derived from this seed and a label (so adding one draw elsewhere changes nothing here). */
  fork(label: string): Prng {
    return new Prng((this.u32() ^ hashString(label)) >>> 0);
  }
}

/** FNV-1a 32-bit of a string (seeds from labels). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
