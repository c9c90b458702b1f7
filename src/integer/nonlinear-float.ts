/**
 * The integer engine's nonlinear approximations in the float domain, for fake-quant to inject
 * (fakeQuantForward's `nonlinears`): the same functions of the real input as the integer kernels,
 * without their integer rounding. Fake-quant with these differs from the integer engine only by
 * requantization rounding; fake-quant without them also by the approximations themselves — so the
 * two runs tell the error sources apart (docs/integer-engine.md).
 *
 *   softmax  I-ViT Shiftmax: e^v ≈ 2^(1.4375·v) with 2^r ≈ 1 + r/2 on (−1, 0], floored at 2^−15
 *   GELU     x·σ(1.702·x), σ(−|t|) = E/(E + 1) with E the same shift exponential (floor 2^−19), mirrored
 *   LayerNorm  (x − μ)/√(mean (x − μ)²) (I-LayerNorm has no ε)
 * and the I-BERT set: second-order exp on (−ln 2, 0] and the erf polynomial.
 */
import type { Nonlinears } from '../quant/fakequant.js';

/** The I-ViT set (the integer engine's default). */
export const IVIT_NONLINEARS: Nonlinears = {
  layerNorm: layerNormNoEps,
  softmaxRows(x, rows, cols) {
    softmaxWith(x, rows, cols, (v) => shiftExp2(v * 1.4375, 15));
  },
  gelu(x, y, n) {
    for (let i = 0; i < n; i++) {
      const v = x[i];
      const e = shiftExp2(-Math.abs(v) * 1.702 * 1.4375, 19);
      const low = e / (e + 1);
      y[i] = v * (v > 0 ? 1 - low : low);
    }
  },
};

/** The I-BERT set (`nonlinear: 'ibert'`). */
export const IBERT_NONLINEARS: Nonlinears = {
  layerNorm: layerNormNoEps,
  softmaxRows(x, rows, cols) {
    softmaxWith(x, rows, cols, polyExp);
  },
  gelu(x, y, n) {
    for (let i = 0; i < n; i++) {
      const v = x[i];
      const t = v / Math.SQRT2;
      const a = Math.min(Math.abs(t), 1.769);
      const erf = Math.sign(t) * (-0.2888 * (a - 1.769) ** 2 + 1);
      y[i] = (v * (1 + erf)) / 2;
    }
  },
};

/** 2^u for u ≤ 0 as I-ViT's ShiftExp: 2^−k·(1 + r/2), u = −k + r, r ∈ (−1, 0], u floored at −floor. */
export function shiftExp2(u: number, floor: number): number {
  const v = u < -floor ? -floor : u;
  const k = Math.floor(-v);
  const r = v + k;
  return (1 + r / 2) * 2 ** -k;
}

/** I-BERT's i-exp in float: e^v = 2^−k·exp(r), r ∈ (−ln 2, 0], exp(r) ≈ a·(r² + b·r + c), v floored at −30·ln 2. */
export function polyExp(v: number): number {
  const x = v < -30 * Math.LN2 ? -30 * Math.LN2 : v;
  const k = Math.floor(-x / Math.LN2);
  const r = x + k * Math.LN2;
  return 0.35815147 * (r * r + (0.96963238 / 0.35815147) * r + 1 / 0.35815147) * 2 ** -k;
}

function softmaxWith(x: Float32Array, rows: number, cols: number, exp: (v: number) => number): void {
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[row + j] > max) max = x[row + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = exp(x[row + j] - max);
      x[row + j] = e;
      sum += e;
    }
    for (let j = 0; j < cols; j++) x[row + j] /= sum;
  }
}

function layerNormNoEps(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, rows: number, d: number): void {
  for (let r = 0; r < rows; r++) {
    const row = r * d;
    let sum = 0;
    for (let i = 0; i < d; i++) sum += x[row + i];
    const mean = sum / d;
    let sq = 0;
    for (let i = 0; i < d; i++) sq += (x[row + i] - mean) ** 2;
    const rstd = sq > 0 ? 1 / Math.sqrt(sq / d) : 0;
    for (let i = 0; i < d; i++) y[row + i] = (x[row + i] - mean) * rstd * gamma[i] + beta[i];
  }
}
