/**
 * NoisyQuant (Liu et al., CVPR'23) as ../shared/QUANT-METHODS.md §3 specifies it: a fixed noisy bias
 * N ∈ R^Cin, one value per input channel drawn once from Uniform(−n, n) with a seeded PRNG, is added
 * before the activation quantizer of the four static-weight linear layers (attn.qkv, attn.proj,
 * mlp.fc1, mlp.fc2) and removed exactly by the folded bias B' = B − Ŵ·N:
 *
 *   Y = Qa(X + N)·Ŵᵀ + B'   =   (Qa(X + N) − N)·Ŵᵀ + B
 *
 * Why it helps (Theorem 1): an element lying within n of a rounding threshold has a lower expected
 * quantization error once the noise is added, an element near a level a higher one; heavy-tailed,
 * spiky activations (post-GELU) put many elements near thresholds, and the layer output averages the
 * per-channel effects over Cin channels.
 *
 * Calibration per layer, on the FP network's inputs (parallel calibration), in the released code's order:
 *   1. weights: per-output-channel symmetric min-max, no clipping;
 *   2. activation clip t = max|X|·i/P (i = P … 1), Δ = t/(2^(b−1)−1), minimizing the MSE of the layer
 *      output against X·Ŵᵀ + B (FP input, quantized weights);
 *   3. optional mean shift μ ∈ Δ·[−1, 1) (the "shifted noisy bias"), same objective — off by default
 *      and reported separately, so that it does not pass for the noise's effect (§10);
 *   4. noise half-range n = k·Δ, k ∈ [0, 2), same objective; the draw u_c ~ U(−1, 1) is fixed first.
 * The paper's Uniform law is used, not the released code's Gaussian (§11.5). The attention operands
 * Q, K, P, V and the head's input get plain uniform quantizers with the same clip search: a noise on a
 * dynamic operand would need the run-time correction N·Kᵀ or N·V, not a constant bias.
 */
import { describe, fieldError, UserError } from '../../config/errors.js';
import type { ViTConfig, ViTParams } from '../../model/config.js';
import { createRng } from '../../model/random.js';
import {
  assembleQuantizedViT, captureFloat, linearOutput, matmulOutput, pixelQuant, residualQuantizers,
  type LinearCapture, type MatmulCapture, type OpDecision,
} from '../assemble.js';
import { argBest, codeRange, dequantizeWeight, fakeQuantArray, maxAbs, meanSquaredError, uniformQuant, weightMinMax } from '../quantizers.js';
import type { ActAddend, UniformQuant } from '../spec.js';
import type { QuantizedViT } from '../spec.js';
import type { CalibrationSet, MethodOptions } from './method.js';

export interface NoisyquantOptions {
  /** Add the searched per-channel noise (the method). */
  noise: boolean;
  /** Search the scalar mean shift μ first (the paper's optional "shifted noisy bias"). */
  shift: boolean;
  calibImages: number;
  /** Clip candidates (released code: 1000). */
  clipPoints: number;
  /** Noise half-range candidates over [0, 2Δ) (released code: 2000). */
  noisePoints: number;
  /** Mean-shift candidates over [−Δ, Δ) (released code: 400). */
  shiftPoints: number;
}

export const NOISYQUANT_DEFAULTS: NoisyquantOptions = {
  noise: true, shift: false, calibImages: 128, clipPoints: 200, noisePoints: 200, shiftPoints: 100,
};

/** Linear layers whose input gets the noise. */
export function takesNoise(op: string): boolean {
  return /^blocks\.\d+\.(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)$/.test(op);
}

export function noisyquant(config: ViTConfig, params: ViTParams, calib: CalibrationSet, options: MethodOptions): QuantizedViT {
  const opts = noisyquantOptions(options);
  const { wbits, abits } = options;
  const count = Math.min(opts.calibImages, calib.count);
  const capture = captureFloat(config, params, calib.pixels, count);
  // One seed per noisy layer, drawn in forward order from the method's seed: each layer's N can be
  // regenerated from its own recorded seed.
  const seeds = createRng(options.seed);

  const decisions = new Map<string, OpDecision>();
  const names = [...capture.ops.keys()];
  names.forEach((name, done) => {
    options.progress?.(done, names.length, name);
    const cap = capture.ops.get(name);
    if (!cap) throw new Error(`noisyquant: nothing captured for ${name}`);
    if (cap.kind === 'matmul') decisions.set(name, searchMatmul(cap, abits, opts));
    else decisions.set(name, searchLinear(cap, wbits, abits, opts, takesNoise(name) ? seeds.nextUint32() : undefined));
  });
  options.progress?.(names.length, names.length, 'done');

  return assembleQuantizedViT({
    config, params, method: 'noisyquant',
    options: { wbits, abits, seed: options.seed, ...opts, calibImages: count },
    decisions, residual: residualQuantizers(capture.residualMaxAbs),
  });
}

export function noisyquantOptions(options: MethodOptions): NoisyquantOptions {
  for (const field of ['wbits', 'abits'] as const) {
    const bits = options[field];
    if (!Number.isInteger(bits) || bits < 2 || bits > 16) throw fieldError('noisyquant', field, 'an integer in 2…16', bits);
  }
  const extra = options.extra ?? {};
  for (const key of Object.keys(extra)) {
    if (!(key in NOISYQUANT_DEFAULTS)) throw new UserError(`noisyquant: unknown option ${describe(key)} (known: ${Object.keys(NOISYQUANT_DEFAULTS).join(', ')})`);
  }
  const opts = { ...NOISYQUANT_DEFAULTS, ...extra } as NoisyquantOptions;
  for (const key of ['noise', 'shift'] as const) {
    if (typeof opts[key] !== 'boolean') throw fieldError('noisyquant', `extra.${key}`, 'true or false', opts[key]);
  }
  for (const key of ['calibImages', 'clipPoints', 'noisePoints', 'shiftPoints'] as const) {
    if (!Number.isInteger(opts[key]) || opts[key] < 1) throw fieldError('noisyquant', `extra.${key}`, 'a positive integer', opts[key]);
  }
  return opts;
}

/**
 * Weights, clip, then (for the four noisy layers) shift and noise. `seed` is given exactly for the
 * layers that take noise.
 */
function searchLinear(cap: LinearCapture, wbits: number, abits: number, opts: NoisyquantOptions, seed: number | undefined): OpDecision {
  const weight = weightMinMax(cap.weight, cap.shape, wbits, true, 'channel');
  if (cap.name === 'patch_embed.proj') return { kind: 'linear', input: pixelQuant(), weight };
  const [outs, ins] = cap.shape;
  const rows = cap.input.rows;
  const x = cap.input.data;
  const wq = dequantizeWeight(weight);
  const reference = linearOutput(cap, x, wq);
  const out = new Float32Array(rows * outs);
  const xq = new Float32Array(x.length);
  // −MSE of the layer output with per-channel addend N (zero = none) before a signed step-Δ quantizer.
  const score = (step: number, addend: Float32Array): number => {
    noisyFakeQuant(x, rows, ins, step, abits, addend, xq);
    return -meanSquaredError(linearOutput(cap, xq, wq, cap.bias, out), reference);
  };

  const zero = new Float32Array(ins);
  const steps = clipSteps(maxAbs(x), abits, true, opts.clipPoints);
  const step = steps[argBest(steps.length, (i) => score(steps[i], zero))];
  const input = uniformQuant(abits, true, step);
  if (seed === undefined || (!opts.noise && !opts.shift)) return { kind: 'linear', input, weight };

  let shift = 0;
  if (opts.shift) {
    const half = opts.shiftPoints / 2;
    const shifts = Array.from({ length: opts.shiftPoints }, (_, i) => (step * (i - half)) / half);
    const constant = new Float32Array(ins);
    shift = shifts[argBest(shifts.length, (i) => score(step, constant.fill(shifts[i])))];
  }
  let halfRange = 0;
  const draw = new Float64Array(ins);
  const rng = createRng(seed);
  for (let c = 0; c < ins; c++) draw[c] = 2 * rng.nextFloat() - 1;
  const addend = new Float32Array(ins);
  if (opts.noise) {
    const ranges = Array.from({ length: opts.noisePoints }, (_, i) => (2 * step * i) / opts.noisePoints);
    halfRange = ranges[argBest(ranges.length, (i) => score(step, noiseVector(shift, ranges[i], draw, addend)))];
  }
  noiseVector(shift, halfRange, draw, addend);
  if (addend.every((v) => v === 0)) return { kind: 'linear', input, weight };

  input.addend = noiseAddend(addend, seed, halfRange, shift);
  return { kind: 'linear', input, weight, bias: foldNoise(cap.bias, wq, outs, ins, addend) };
}

/** N_c = μ + n·u_c into out (u_c ∈ [−1, 1) in float64, rounded once to float32). */
export function noiseVector(shift: number, halfRange: number, draw: Float64Array, out: Float32Array): Float32Array {
  for (let c = 0; c < draw.length; c++) out[c] = shift + halfRange * draw[c];
  return out;
}

export function noiseAddend(noise: Float32Array, seed: number, halfRange: number, shift: number): ActAddend {
  const postAdd = new Float32Array(noise.length);
  for (let c = 0; c < noise.length; c++) postAdd[c] = -noise[c];
  return { kind: 'noise', preAdd: Float32Array.from(noise), postAdd, noise: { seed, halfRange, shift } };
}

/** The denoising bias B'_o = B_o − Σ_c Ŵ[o, c]·N_c (float64 sums), which makes the noise vanish from the output. */
export function foldNoise(bias: Float32Array, wq: Float32Array, outs: number, ins: number, noise: Float32Array): Float32Array {
  const folded = new Float32Array(outs);
  for (let o = 0; o < outs; o++) {
    let s = 0;
    for (let c = 0; c < ins; c++) s += wq[o * ins + c] * noise[c];
    folded[o] = bias[o] - s;
  }
  return folded;
}

/** x̂ = Δ·clamp(round((x + N_c)/Δ)) − N_c over x [rows, cols], signed b-bit: what the layer sees after the fold. */
function noisyFakeQuant(x: Float32Array, rows: number, cols: number, step: number, bits: number, noise: Float32Array, out: Float32Array): void {
  const { lo, hi } = codeRange(bits, true);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) {
      const n = noise[c];
      const code = Math.floor((x[row + c] + n) / step + 0.5);
      out[row + c] = step * (code < lo ? lo : code > hi ? hi : code) - n;
    }
  }
}

/** Steps for clips t = max·i/P, i = P … 1 (largest first). */
function clipSteps(max: number, bits: number, signed: boolean, points: number): number[] {
  const top = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const safe = max > 0 ? max : 2 ** -126;
  return Array.from({ length: points }, (_, j) => (safe * (points - j)) / points / top);
}

/** Q, K, V signed and P unsigned, each by clip search on the product's output MSE: A with B in float, then B with Â. */
function searchMatmul(cap: MatmulCapture, abits: number, opts: NoisyquantOptions): OpDecision {
  const signedA = cap.name.endsWith('.qk');
  const reference = cap.output.data;
  const out = new Float32Array(reference.length);
  const pick = (data: Float32Array, rows: number, cols: number, signed: boolean, mse: (xq: Float32Array) => number): UniformQuant => {
    const steps = clipSteps(maxAbs(data), abits, signed, opts.clipPoints);
    const xq = new Float32Array(data.length);
    const candidates = steps.map((s) => uniformQuant(abits, signed, s));
    return candidates[argBest(candidates.length, (i) => -mse(fakeQuantArray(candidates[i], data, rows, cols, xq)))];
  };
  const a = pick(cap.a.data, cap.a.rows, cap.a.cols, signedA, (aq) => meanSquaredError(matmulOutput(cap, aq, cap.b.data, out), reference));
  const aq = fakeQuantArray(a, cap.a.data, cap.a.rows, cap.a.cols);
  const b = pick(cap.b.data, cap.b.rows, cap.b.cols, true, (bq) => meanSquaredError(matmulOutput(cap, aq, bq, out), reference));
  return { kind: 'matmul', a, b };
}
