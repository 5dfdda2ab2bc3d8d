import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { solveBoundedQuadratic } from "../../src/state/bounded-least-squares.ts";

/** A random symmetric positive definite n×n matrix: MᵀM + εI. */
function spd(m: number[], n: number, eps: number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? eps : 0;
      for (let k = 0; k < n; k++) s += m[k * n + i]! * m[k * n + j]!;
      a[i * n + j] = s;
    }
  return a;
}

function objective(a: Float64Array, b: Float64Array, x: ArrayLike<number>): number {
  const n = b.length;
  let v = 0;
  for (let i = 0; i < n; i++) {
    let ax = 0;
    for (let j = 0; j < n; j++) ax += a[i * n + j]! * x[j]!;
    v += 0.5 * x[i]! * ax - b[i]! * x[i]!;
  }
  return v;
}

/** The optimum by enumeration: every set of constrained coefficients held at zero, the best feasible. */
function bruteForce(a: Float64Array, b: Float64Array, nonNegative: boolean[]): number {
  const n = b.length;
  const constrained = nonNegative.flatMap((c, i) => (c ? [i] : []));
  let best = Number.POSITIVE_INFINITY;
  for (let mask = 0; mask < 1 << constrained.length; mask++) {
    const held = new Array<boolean>(n).fill(false);
    constrained.forEach((j, k) => {
      if (mask & (1 << k)) held[j] = true;
    });
    // Solving with everything held at its bound from a start at the bound gives the free optimum.
    const free = [...Array(n).keys()].filter((j) => !held[j]);
    const x = gaussSolve(a, b, free);
    if (free.some((j) => nonNegative[j] && x[j]! < -1e-9)) continue;
    best = Math.min(best, objective(a, b, x));
  }
  return best;
}

function gaussSolve(a: Float64Array, b: Float64Array, free: number[]): Float64Array {
  const n = b.length;
  const m = free.length;
  const rows = free.map((i) => [...free.map((j) => a[i * n + j]!), b[i]!]);
  for (let c = 0; c < m; c++) {
    let p = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(rows[r]![c]!) > Math.abs(rows[p]![c]!)) p = r;
    [rows[c], rows[p]] = [rows[p]!, rows[c]!];
    for (let r = 0; r < m; r++) {
      if (r === c) continue;
      const f = rows[r]![c]! / rows[c]![c]!;
      for (let k = c; k <= m; k++) rows[r]![k]! -= f * rows[c]![k]!;
    }
  }
  const x = new Float64Array(n);
  free.forEach((j, c) => {
    x[j] = rows[c]![m]! / rows[c]![c]!;
  });
  return x;
}

const problem = fc.integer({ min: 1, max: 6 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    m: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n * n, maxLength: n * n }),
    b: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }),
    nonNegative: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    start: fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: n, maxLength: n }),
  }),
);

describe("bounded least squares", () => {
  it("bounded least squares - reaches the constrained optimum (KKT, and equal to enumeration)", () => {
    fc.assert(
      fc.property(problem, ({ n, m, b: bs, nonNegative, start }) => {
        const a = spd(m, n, 0.05);
        const b = Float64Array.from(bs);
        const x = solveBoundedQuadratic(a, b, nonNegative, start);
        for (let j = 0; j < n; j++) {
          let gradient = b[j]!;
          for (let k = 0; k < n; k++) gradient -= a[j * n + k]! * x[k]!;
          if (nonNegative[j]) {
            expect(x[j]).toBeGreaterThanOrEqual(0);
            // At the bound the objective may only rise inwards; off it the gradient vanishes.
            if (x[j] === 0) expect(gradient).toBeLessThanOrEqual(1e-6);
            else expect(Math.abs(gradient)).toBeLessThan(1e-6);
          } else expect(Math.abs(gradient)).toBeLessThan(1e-6);
        }
        const best = bruteForce(a, b, nonNegative);
        expect(objective(a, b, x)).toBeLessThanOrEqual(best + 1e-7 * (1 + Math.abs(best)));
      }),
      { numRuns: 500, seed: 11 },
    );
  });

  it("bounded least squares - is the plain solution when no bound binds", () => {
    const a = Float64Array.from([4, 1, 1, 3]);
    const b = Float64Array.from([1, 2]);
    // 4x + y = 1, x + 3y = 2 -> x = 1/11, y = 7/11: both positive, the bounds change nothing.
    const x = solveBoundedQuadratic(a, b, [true, true], [0, 0]);
    expect(x[0]).toBeCloseTo(1 / 11, 12);
    expect(x[1]).toBeCloseTo(7 / 11, 12);
  });

  it("bounded least squares - holds a coefficient at zero that the plain solution makes negative", () => {
    const a = Float64Array.from([1, 0.9, 0.9, 1]);
    const b = Float64Array.from([1, 0]);
    // Unconstrained: x = (5.26, -4.74). With y >= 0: y = 0, x = 1 (and x itself unconstrained).
    const x = solveBoundedQuadratic(a, b, [false, true], [0, 3]);
    expect(x[0]).toBeCloseTo(1, 12);
    expect(x[1]).toBe(0);
  });
});
