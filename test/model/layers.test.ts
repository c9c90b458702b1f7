/**
 * Every layer's backward against central finite differences of a scalar loss L = Σ r ⊙ y (r random),
 * so dL/dy = r. Layers without a matrix product (GELU, LayerNorm, softmax cross-entropy) run in
 * float64 here and must agree within 1e-9…1e-8 (measured 4e-11…7e-10); layers built on the float32
 * GEMM agree to what float32 rounding of the forward leaves of a finite difference: linear and
 * patch embedding 1e-5 (measured 3e-7; they are linear, so a large step has no truncation error),
 * attention 2e-4 (measured 1.5e-5 with step 1e-2).
 *
 * Error measure: max_i |numeric_i − analytic_i| / max_i |analytic_i| over the whole gradient tensor.
 */
import { erf as mathjsErf } from 'mathjs';
import { describe, expect, it } from 'vitest';
import { attentionBackward, attentionForward, type AttentionShape } from '../../src/model/layers/attention.js';
import { erf, erfFast, geluBackward, geluForward } from '../../src/model/layers/gelu.js';
import { layerNormBackward, layerNormForward } from '../../src/model/layers/layer-norm.js';
import { linearBackward, linearForward } from '../../src/model/layers/linear.js';
import { im2col, patchEmbedBackward, patchEmbedForward, type PatchShape } from '../../src/model/layers/patch-embed.js';
import { softmaxCrossEntropy } from '../../src/model/layers/softmax-cross-entropy.js';
import { createRng, type Rng } from '../../src/model/random.js';

type FloatArray = Float32Array | Float64Array;

describe('erf and GELU', () => {
  it('the reference erf matches tabulated values to 1e-15 relative', () => {
    // erf values to 16 digits (A&S Table 7.1 extended; also what mpmath.erf prints).
    const table: [number, number][] = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
    ];
    for (const [x, value] of table) {
      expect(Math.abs(erf(x) - value) / value).toBeLessThan(1e-15);
      expect(erf(-x)).toBe(-erf(x));
    }
  });

  it('the reference erf agrees with mathjs (an independent implementation) within 2e-15 on [−6, 6]', () => {
    let worst = 0;
    for (let x = -6; x <= 6; x += 1 / 1024) worst = Math.max(worst, Math.abs(erf(x) - mathjsErf(x)));
    expect(worst).toBeLessThan(2e-15);
  });

  it('the table erf is within 3e-15 of the reference erf on [−9, 9]', () => {
    let worst = 0;
    for (let x = -9; x <= 9; x += 1 / 4096 + 1e-7) worst = Math.max(worst, Math.abs(erfFast(x) - erf(x)));
    expect(worst).toBeLessThan(3e-15);
  });

  it('GELU’s derivative from the table is within 1e-13 of Φ(x) + x·e^(−x²/2)/√(2π) on [−12, 12]', () => {
    const x = Float64Array.from({ length: 24 * 1024 + 1 }, (_, i) => -12 + i / 1024 + 1e-7);
    const slope = new Float64Array(x.length);
    geluBackward(x, new Float64Array(x.length).fill(1), slope, x.length);
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      const exact = 0.5 * (1 + erf(v / Math.SQRT2)) + (v * Math.exp(-v * v / 2)) / Math.sqrt(2 * Math.PI);
      worst = Math.max(worst, Math.abs(slope[i] - exact));
    }
    expect(worst).toBeLessThan(1e-13);
  });

  it('GELU is the exact erf form of nn.GELU(), not the tanh approximation', () => {
    const x = new Float64Array([1, -1, 2, 0]);
    const y = new Float64Array(4);
    geluForward(x, y, 4);
    // x·Φ(x) with Φ(1) = 0.8413447460685429, Φ(2) = 0.9772498680518208.
    expect(y[0]).toBeCloseTo(0.8413447460685429, 15);
    expect(y[1]).toBeCloseTo(-0.15865525393145707, 15);
    expect(y[2]).toBeCloseTo(1.9544997361036416, 15);
    expect(y[3]).toBe(0);
    const tanhApprox = 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (1 + 0.044715)));
    expect(Math.abs(y[0] - tanhApprox)).toBeGreaterThan(1e-4);
  });

  it('GELU backward matches central differences within 1e-9 (float64)', () => {
    const rng = createRng(1);
    const n = 64;
    const x = randomArray(rng, n, 2, Float64Array);
    const r = randomArray(rng, n, 1, Float64Array);
    const dx = new Float64Array(n);
    geluBackward(x, r, dx, n);
    const y = new Float64Array(n);
    const numeric = numericGradient(x, () => {
      geluForward(x, y, n);
      return dot(r, y);
    }, 1e-5);
    expect(relativeError(numeric, dx)).toBeLessThan(1e-9);
  });
});

describe('LayerNorm', () => {
  it('normalises with the biased variance and eps = 1e-6 inside the square root, as nn.LayerNorm(eps=1e-6)', () => {
    const x = new Float64Array([1e-3, -1e-3, 1, 2, 3, 4]);
    const y = new Float64Array(6);
    const mean = new Float64Array(3);
    const rstd = new Float64Array(3);
    layerNormForward(x.subarray(0, 2), new Float64Array([1, 1]), new Float64Array(2), y.subarray(0, 2), mean, rstd, 1, 2, 1e-6);
    // var = 1e-6, so eps doubles it: 1e-3/√(2e-6) = 1/√2 (eps 1e-5 would give 0.30).
    expect(y[0]).toBeCloseTo(Math.SQRT1_2, 12);
    layerNormForward(x.subarray(2), new Float64Array([2, 2, 2, 2]), new Float64Array([1, 1, 1, 1]), y.subarray(2), mean, rstd, 1, 4, 1e-6);
    // mean 2.5, biased variance 1.25.
    expect(y[2]).toBeCloseTo(2 * (-1.5 / Math.sqrt(1.25 + 1e-6)) + 1, 12);
    expect(mean[0]).toBe(2.5);
    expect(rstd[0]).toBeCloseTo(1 / Math.sqrt(1.25 + 1e-6), 14);
  });

  it('backward matches central differences for x, weight and bias within 1e-8 (float64), and accumulates', () => {
    const rng = createRng(2);
    const m = 4;
    const d = 6;
    const x = new Float64Array(m * d);
    // rows with different means and spreads, one of them narrow (std 0.1)
    for (let r = 0; r < m; r++) {
      const spread = [1, 0.1, 3, 0.5][r];
      for (let i = 0; i < d; i++) x[r * d + i] = r - 1.5 + spread * rng.normal();
    }
    const gamma = randomArray(rng, d, 1, Float64Array);
    const beta = randomArray(rng, d, 1, Float64Array);
    const rCoef = randomArray(rng, m * d, 1, Float64Array);
    const y = new Float64Array(m * d);
    const mean = new Float64Array(m);
    const rstd = new Float64Array(m);
    const loss = (): number => {
      layerNormForward(x, gamma, beta, y, mean, rstd, m, d, 1e-6);
      return dot(rCoef, y);
    };
    loss();
    const dx = new Float64Array(m * d);
    const dGamma = new Float64Array(d);
    const dBeta = new Float64Array(d);
    layerNormBackward(x, gamma, mean, rstd, rCoef, dx, dGamma, dBeta, m, d);
    expect(relativeError(numericGradient(x, loss, 1e-6), dx)).toBeLessThan(1e-8);
    expect(relativeError(numericGradient(gamma, loss, 1e-6), dGamma)).toBeLessThan(1e-8);
    expect(relativeError(numericGradient(beta, loss, 1e-6), dBeta)).toBeLessThan(1e-8);

    const once = Float64Array.from(dGamma);
    layerNormBackward(x, gamma, mean, rstd, rCoef, dx, dGamma, dBeta, m, d);
    for (let i = 0; i < d; i++) expect(dGamma[i]).toBeCloseTo(2 * once[i], 12);
  });
});

describe('softmax cross-entropy', () => {
  it('is the mean over the batch of −log softmax at the label', () => {
    // [0, ln 2] with label 1: p = 2/3; [5, 5, 5] with label 0: p = 1/3.
    const logits = new Float64Array([0, Math.log(2), 0, 5, 5, 5]);
    const { loss } = softmaxCrossEntropy(logits.subarray(0, 2), [1], 1, 2);
    expect(loss).toBeCloseTo(Math.log(1.5), 14);
    const both = softmaxCrossEntropy(new Float64Array([0, Math.log(2), 0, 5, 5, 5]), [1, 0], 2, 3);
    // row 0 is [0, ln 2, 0] now: p(1) = 2/4.
    expect(both.loss).toBeCloseTo((Math.log(2) + Math.log(3)) / 2, 14);
  });

  it('dLogits matches central differences of the mean loss within 1e-9 (float64), and keeps float32 in float32', () => {
    const rng = createRng(3);
    const batch = 3;
    const classes = 5;
    const logits = randomArray(rng, batch * classes, 3, Float64Array);
    const labels = [4, 0, 2];
    const { dLogits } = softmaxCrossEntropy(logits, labels, batch, classes);
    const numeric = numericGradient(logits, () => softmaxCrossEntropy(logits, labels, batch, classes).loss, 1e-5);
    expect(relativeError(numeric, dLogits)).toBeLessThan(1e-9);
    expect(softmaxCrossEntropy(Float32Array.from(logits), labels, batch, classes).dLogits).toBeInstanceOf(Float32Array);
  });

  it('refuses a label that is not a class index', () => {
    expect(() => softmaxCrossEntropy(new Float32Array(3), [3], 1, 3)).toThrow(/label 3 of sample 0/);
  });
});

describe('linear (float32 GEMM)', () => {
  it('computes y = x·Wᵀ + b with W in PyTorch [out, in] layout', () => {
    // x = [1, 2], W = [[1, 0], [0, 1], [1, 1]], b = [10, 20, 30] → [11, 22, 33]
    const y = new Float32Array(3);
    linearForward(new Float32Array([1, 2]), new Float32Array([1, 0, 0, 1, 1, 1]), new Float32Array([10, 20, 30]), y, 1, 2, 3);
    expect([...y]).toEqual([11, 22, 33]);
  });

  it('backward matches central differences for x, weight and bias within 1e-5, and accumulates dW, db', () => {
    const rng = createRng(4);
    const [m, inF, outF] = [5, 7, 4];
    const x = randomArray(rng, m * inF, 1, Float32Array);
    const w = randomArray(rng, outF * inF, 1, Float32Array);
    const b = randomArray(rng, outF, 1, Float32Array);
    const rCoef = randomArray(rng, m * outF, 1, Float32Array);
    const y = new Float32Array(m * outF);
    const loss = (): number => {
      linearForward(x, w, b, y, m, inF, outF);
      return dot(rCoef, y);
    };
    const dx = new Float32Array(m * inF);
    const dW = new Float32Array(outF * inF);
    const db = new Float32Array(outF);
    linearBackward(x, w, rCoef, dx, dW, db, m, inF, outF);
    // L is linear in each argument, so a large step has no truncation error and shrinks rounding's share.
    expect(relativeError(numericGradient(x, loss, 0.25), dx)).toBeLessThan(1e-5);
    expect(relativeError(numericGradient(w, loss, 0.25), dW)).toBeLessThan(1e-5);
    expect(relativeError(numericGradient(b, loss, 0.25), db)).toBeLessThan(1e-5);

    const onceW = Float32Array.from(dW);
    const onceB = Float32Array.from(db);
    linearBackward(x, w, rCoef, undefined, dW, db, m, inF, outF);
    for (let i = 0; i < dW.length; i++) expect(dW[i]).toBeCloseTo(2 * onceW[i], 5);
    for (let i = 0; i < db.length; i++) expect(db[i]).toBeCloseTo(2 * onceB[i], 5);
  });
});

describe('multi-head attention core (float32 GEMM)', () => {
  it('backward through softmax(q·kᵀ·d^-0.5)·v matches central differences on qkv within 2e-4', () => {
    const rng = createRng(5);
    const shape: AttentionShape = { batch: 2, tokens: 5, heads: 2, headDim: 3 };
    const rows = shape.batch * shape.tokens;
    const width = shape.heads * shape.headDim;
    const qkv = randomArray(rng, rows * 3 * width, 1, Float32Array);
    const rCoef = randomArray(rng, rows * width, 1, Float32Array);
    const out = new Float32Array(rows * width);
    const probs = new Float32Array(shape.batch * shape.heads * shape.tokens ** 2);
    const loss = (): number => {
      attentionForward(qkv, out, probs, shape);
      return dot(rCoef, out);
    };
    loss();
    const dQkv = new Float32Array(qkv.length);
    attentionBackward(qkv, probs, rCoef, dQkv, shape);
    expect(relativeError(numericGradient(qkv, loss, 1e-2), dQkv)).toBeLessThan(2e-4);
  });
});

describe('patch embedding (float32 GEMM)', () => {
  it('weight and bias gradients match central differences within 1e-5', () => {
    const rng = createRng(6);
    const shape: PatchShape = { batch: 2, channels: 2, imgSize: 6, patchSize: 3 };
    const embedDim = 4;
    const rows = 2 * 4;
    const cols = 2 * 9;
    const images = randomArray(rng, 2 * 2 * 36, 1, Float32Array);
    const patches = new Float32Array(rows * cols);
    im2col(images, patches, shape);
    const weight = randomArray(rng, embedDim * cols, 1, Float32Array);
    const bias = randomArray(rng, embedDim, 1, Float32Array);
    const rCoef = randomArray(rng, rows * embedDim, 1, Float32Array);
    const tokens = new Float32Array(rows * embedDim);
    const loss = (): number => {
      patchEmbedForward(patches, weight, bias, tokens, shape, embedDim);
      return dot(rCoef, tokens);
    };
    const dWeight = new Float32Array(weight.length);
    const dBias = new Float32Array(embedDim);
    patchEmbedBackward(patches, weight, rCoef, dWeight, dBias, shape, embedDim);
    expect(relativeError(numericGradient(weight, loss, 0.25), dWeight)).toBeLessThan(1e-5);
    expect(relativeError(numericGradient(bias, loss, 0.25), dBias)).toBeLessThan(1e-5);
  });
});

/**
 * Central differences of loss() with respect to every entry of x (restored afterwards), divided by
 * the step actually stored (x ± h rounded to the array's precision).
 */
function numericGradient(x: FloatArray, loss: () => number, h: number): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i];
    x[i] = old + h;
    const hi = x[i];
    const up = loss();
    x[i] = old - h;
    const lo = x[i];
    const down = loss();
    x[i] = old;
    grad[i] = (up - down) / (hi - lo);
  }
  return grad;
}

function relativeError(numeric: FloatArray, analytic: FloatArray): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < analytic.length; i++) {
    worst = Math.max(worst, Math.abs(numeric[i] - analytic[i]));
    scale = Math.max(scale, Math.abs(analytic[i]));
  }
  return worst / scale;
}

function dot(a: FloatArray, b: FloatArray): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function randomArray<A extends FloatArray>(rng: Rng, n: number, std: number, kind: new (n: number) => A): A {
  const out = new kind(n);
  for (let i = 0; i < n; i++) out[i] = std * rng.normal();
  return out;
}
