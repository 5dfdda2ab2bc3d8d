/**
 * min ½ θᵀAθ − bᵀθ subject to θ_j ≥ 0 where `nonNegative[j]`, for a symmetric positive definite A
 * (row-major n×n): Lawson and Hanson's active-set method (their NNLS, with unconstrained variables
 * always free), which ends at the exact optimum in finitely many steps. `start` is a feasible warm
 * start (the previous solution: consecutive problems differ by one sample, so it is usually one
 * factorisation). Sized for the latency model's ~10 coefficients; O(n³) per step.
 */
export function solveBoundedQuadratic(
  a: Float64Array,
  b: Float64Array,
  nonNegative: readonly boolean[],
  start: readonly number[],
): Float64Array {
  const n = b.length;
  const theta = new Float64Array(n);
  // Held at zero (the active set); a warm start's zeros begin there.
  const atZero = new Array<boolean>(n).fill(false);
  for (let j = 0; j < n; j++) {
    if (nonNegative[j] && !(start[j]! > 0)) atZero[j] = true;
    else theta[j] = start[j]!;
  }
  let scale = 1;
  for (let j = 0; j < n; j++) scale = Math.max(scale, Math.abs(b[j]!));
  const tol = 1e-10 * scale;
  const z = new Float64Array(n);
  for (let step = 0; step < 4 * n + 8; step++) {
    solveFree(a, b, atZero, z);
    // The unconstrained optimum of the free coefficients breaks a bound: walk towards it until the
    // first coefficient reaches zero, hold that one there, and solve again.
    let alpha = 1;
    for (let j = 0; j < n; j++) {
      if (atZero[j] || !nonNegative[j] || z[j]! >= 0) continue;
      alpha = Math.min(alpha, theta[j]! / (theta[j]! - z[j]!));
    }
    if (alpha < 1) {
      for (let j = 0; j < n; j++) {
        if (atZero[j]) continue;
        theta[j] = theta[j]! + alpha * (z[j]! - theta[j]!);
        if (nonNegative[j] && theta[j]! <= tol) {
          theta[j] = 0;
          atZero[j] = true;
        }
      }
      continue;
    }
    theta.set(z);
    // A step of "1" can still leave a rounding-sized negative (θ/(θ − z) rounds to 1): that is zero.
    for (let j = 0; j < n; j++) if (nonNegative[j] && theta[j]! < 0) theta[j] = 0;
    // Optimal unless freeing a held coefficient would lower the objective: free the most promising.
    let best = -1;
    let bestGain = tol;
    for (let j = 0; j < n; j++) {
      if (!atZero[j]) continue;
      let gradient = b[j]!;
      for (let k = 0; k < n; k++) gradient -= a[j * n + k]! * theta[k]!;
      if (gradient > bestGain) {
        bestGain = gradient;
        best = j;
      }
    }
    if (best < 0) return theta;
    atZero[best] = false;
  }
  // Not reached for a positive definite A; theta is still feasible.
  return theta;
}

/** z_free = A_ff⁻¹ b_f with the held coefficients at zero (Cholesky of the free block). */
function solveFree(a: Float64Array, b: Float64Array, atZero: readonly boolean[], z: Float64Array): void {
  const n = b.length;
  const free: number[] = [];
  for (let j = 0; j < n; j++) if (!atZero[j]) free.push(j);
  const m = free.length;
  const l = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[free[i]! * n + free[j]!]!;
      for (let k = 0; k < j; k++) s -= l[i * m + k]! * l[j * m + k]!;
      l[i * m + j] = i === j ? Math.sqrt(Math.max(s, Number.MIN_VALUE)) : s / l[j * m + j]!;
    }
  }
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = b[free[i]!]!;
    for (let k = 0; k < i; k++) s -= l[i * m + k]! * y[k]!;
    y[i] = s / l[i * m + i]!;
  }
  z.fill(0);
  for (let i = m - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < m; k++) s -= l[k * m + i]! * z[free[k]!]!;
    z[free[i]!] = s / l[i * m + i]!;
  }
}
