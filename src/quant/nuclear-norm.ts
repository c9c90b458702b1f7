/**
 * Singular values and the nuclear norm ‖Y‖_* = Σ σ_i, which Liu et al. 2021 use to weigh how much
 * a module's output (an attention map or an MLP feature) matters when its bit-width drops.
 *
 * One-sided Jacobi (Hestenes): rotate pairs of columns until every pair is orthogonal; the column
 * norms are then the singular values. It works on the matrix itself rather than on YᵀY, so small
 * singular values keep their relative accuracy, and for the shapes here (17×17 attention maps,
 * 17×64 features) a handful of sweeps over ≤ 136 column pairs converges to float64 precision.
 */

/** Sweeps before giving up; one-sided Jacobi converges quadratically, real matrices need < 15. */
const MAX_SWEEPS = 60;

/** a [rows, cols] row-major → its min(rows, cols) singular values, largest first. */
export function singularValues(a: Float32Array | Float64Array, rows: number, cols: number): Float64Array {
  if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows >= 1 && cols >= 1)) {
    throw new RangeError(`singularValues: shape must be positive integers, got ${rows}×${cols}`);
  }
  if (a.length !== rows * cols) throw new RangeError(`singularValues: ${a.length} values for a ${rows}×${cols} matrix`);
  // Orthogonalise the fewer vectors: the columns of a, or the columns of aᵀ (the rows of a).
  const n = Math.min(rows, cols);
  const len = Math.max(rows, cols);
  const u = new Float64Array(n * len);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (cols <= rows) u[c * len + r] = a[r * cols + c];
      else u[r * len + c] = a[r * cols + c];
    }
  }

  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < len; i++) {
          const x = u[p * len + i];
          const y = u[q * len + i];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= Number.EPSILON * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        // The rotation that zeroes the (p, q) entry of the 2×2 Gram block, taking the smaller angle.
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < len; i++) {
          const x = u[p * len + i];
          const y = u[q * len + i];
          u[p * len + i] = c * x - s * y;
          u[q * len + i] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }

  const sigma = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    let sum = 0;
    for (let i = 0; i < len; i++) sum += u[p * len + i] * u[p * len + i];
    sigma[p] = Math.sqrt(sum);
  }
  return sigma.sort().reverse();
}

/** ‖a‖_* = Σ σ_i of a [rows, cols] row-major. */
export function nuclearNorm(a: Float32Array | Float64Array, rows: number, cols: number): number {
  let sum = 0;
  for (const s of singularValues(a, rows, cols)) sum += s;
  return sum;
}
