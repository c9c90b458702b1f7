/**
 * The inner loop of every output-error scale search (PTQ4ViT, NoisyQuant): score a candidate
 * layer output Ô against the full-precision output O, and quantize a block of weight rows at a
 * candidate step. Scores are "higher is better" so argBest (quantizers.ts) picks the winner.
 *
 *   hessian  −Σ (∂L/∂O ⊙ (Ô − O))²     PTQ4ViT's Hessian-guided metric (gradients from hessian.ts)
 *   cosine   cos(Ô, O)                  PTQ4ViT's base-PTQ metric
 *   mse      −mean (Ô − O)²             NoisyQuant's layer-output MSE
 */
import { codeRange } from './quantizers.js';

export type OutputMetric = 'hessian' | 'cosine' | 'mse';

/**
 * Scores an output block out [rows, width] against columns c0 … c0+width−1 of the reference
 * [rows, cols]; grad (same layout as the reference) is required by the hessian metric.
 */
export type BlockScore = (out: Float32Array, c0: number, width: number) => number;

export function blockScorer(metric: OutputMetric, reference: Float32Array, rows: number, cols: number, grad?: Float32Array): BlockScore {
  if (reference.length !== rows * cols) throw new RangeError(`blockScorer: reference holds ${reference.length} values, expected ${rows}·${cols}`);
  if (metric === 'hessian' && grad?.length !== reference.length) throw new Error('blockScorer: the hessian metric needs a gradient shaped as the reference');
  const weight = metric === 'hessian' ? squared(grad as Float32Array) : undefined;
  return (out, c0, width) => {
    let err = 0;
    let xy = 0;
    let xx = 0;
    let yy = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * width;
      const f = r * cols + c0;
      for (let j = 0; j < width; j++) {
        const y = reference[f + j];
        const x = out[o + j];
        if (metric === 'cosine') {
          xy += x * y;
          xx += x * x;
          yy += y * y;
        } else {
          const e = x - y;
          err += weight ? weight[f + j] * e * e : e * e;
        }
      }
    }
    if (metric === 'cosine') return xx === 0 || yy === 0 ? (xx === yy ? 1 : 0) : xy / Math.sqrt(xx * yy);
    return metric === 'mse' ? -err / (rows * width) : -err;
  };
}

/** Scores a whole output (all columns). */
export function wholeScore(score: BlockScore, cols: number): (out: Float32Array) => number {
  return (out) => score(out, 0, cols);
}

/** Rows r0 … r0+n−1 of w [out, in], fake-quantized symmetric signed b-bit at `step`, into dst [n, in]. */
export function fakeQuantWeightRows(w: Float32Array, ins: number, r0: number, n: number, bits: number, step: number, dst: Float32Array): Float32Array {
  const { lo, hi } = codeRange(bits, true);
  const base = r0 * ins;
  for (let i = 0; i < n * ins; i++) {
    const code = Math.floor(w[base + i] / step + 0.5);
    dst[i] = step * (code < lo ? lo : code > hi ? hi : code);
  }
  return dst;
}

function squared(x: Float32Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * x[i];
  return out;
}
