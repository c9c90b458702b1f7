import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../../src/model/random.js';
import { nuclearNorm, singularValues } from '../../src/quant/nuclear-norm.js';

/** A random n×n orthogonal matrix: Gram–Schmidt of Gaussian columns (row-major). */
function randomOrthogonal(rng: Rng, n: number): Float64Array {
  const q = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const v = Array.from({ length: n }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < c; k++) {
        let dot = 0;
        for (let r = 0; r < n; r++) dot += v[r] * q[r * n + k];
        for (let r = 0; r < n; r++) v[r] -= dot * q[r * n + k];
      }
    }
    const norm = Math.hypot(...v);
    for (let r = 0; r < n; r++) q[r * n + c] = v[r] / norm;
  }
  return q;
}

/** U[m×m] · diag(s) (m×n) · Vᵀ[n×n]. */
function compose(u: Float64Array, s: number[], v: Float64Array, m: number, n: number): Float64Array {
  const a = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < n; c++) {
      let sum = 0;
      for (let k = 0; k < s.length; k++) sum += u[r * m + k] * s[k] * v[c * n + k];
      a[r * n + c] = sum;
    }
  }
  return a;
}

describe('singular values', () => {
  it('of a diagonal matrix are its absolute diagonal, largest first', () => {
    const a = new Float64Array([3, 0, 0, 0, -7, 0, 0, 0, 0.5]);
    expect([...singularValues(a, 3, 3)]).toEqual([7, 3, 0.5]);
  });

  it('of a rank-one matrix u·vᵀ are ‖u‖·‖v‖ and zeros', () => {
    const u = [1, 2, 2];
    const v = [3, 4];
    const a = new Float64Array(6);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 2; c++) a[r * 2 + c] = u[r] * v[c];
    const s = singularValues(a, 3, 2);
    expect(s[0]).toBeCloseTo(15, 12);
    expect(s[1]).toBeCloseTo(0, 12);
  });

  it('recover the spectrum of U·diag(s)·Vᵀ for random orthogonal U, V (tall, wide and square)', () => {
    const rng = createRng(7);
    for (const [m, n] of [[17, 17], [17, 64], [64, 17], [5, 3]]) {
      const k = Math.min(m, n);
      const s = Array.from({ length: k }, () => rng.nextFloat() * 10).sort((x, y) => y - x);
      const a = compose(randomOrthogonal(rng, m), s, randomOrthogonal(rng, n), m, n);
      const got = singularValues(a, m, n);
      for (let i = 0; i < k; i++) expect(Math.abs(got[i] - s[i])).toBeLessThan(1e-10 * s[0]);
      expect(nuclearNorm(a, m, n)).toBeCloseTo(s.reduce((x, y) => x + y, 0), 9);
    }
  });

  it('give an orthogonal matrix a nuclear norm equal to its size', () => {
    expect(nuclearNorm(randomOrthogonal(createRng(3), 12), 12, 12)).toBeCloseTo(12, 10);
  });

  it('agree with the Frobenius norm (Σσ² = ‖A‖²_F) and are the same for Aᵀ, on float32 input', () => {
    const rng = createRng(11);
    const m = 9;
    const n = 4;
    const a = Float32Array.from({ length: m * n }, () => rng.normal());
    const t = new Float32Array(m * n);
    for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) t[c * m + r] = a[r * n + c];
    const s = singularValues(a, m, n);
    expect(s.reduce((x, y) => x + y * y, 0)).toBeCloseTo(a.reduce((x, y) => x + y * y, 0), 9);
    const st = singularValues(t, n, m);
    for (let i = 0; i < n; i++) expect(st[i]).toBeCloseTo(s[i], 12);
  });
});
