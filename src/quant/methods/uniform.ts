/**
 * The uniform post-training baselines (QUANT-METHODS.md §2): every linear-layer input and weight and
 * both operands of Q·Kᵀ and P·V get a uniform quantizer (P unsigned), calibrated op by op on the
 * float network's own inputs ("parallel calibration"). The scale comes from
 *   minmax      the calibration range (activations) and the weight range
 *   percentile  activations clipped at the given percentile (weights still min-max)
 *   mse, cosine a grid Δ0·(α + i(β−α)/n), i = 0…n, Δ0 = max|x|/(2^(b−1) − 0.5), searched on the op's
 *               output (−MSE or cosine similarity to the float output), alternating weight and
 *               activation (a and b for matmuls) for `rounds` rounds. PTQ4ViT's Base PTQ is
 *               cosine, α 0.5, β 1.2, n 100, one round, symmetric, per-tensor.
 * Per-channel weights pick each output channel's factor on its own output column.
 *
 * options.extra: { symmetric = true, granularity = 'tensor', scale = 'cosine', percentile = 99.99,
 *                  alpha = 0.5, beta = 1.2, grid = 100, rounds = 1, searchImages = all }
 */
import { UserError, describe } from '../../config/errors.js';
import {
  captureFloat, linearOutput, matmulOutput, pixelQuant, residualQuantizers, assembleQuantizedViT,
  type LinearCapture, type MatmulCapture, type Operand, type OpDecision,
} from '../assemble.js';
import {
  argBest, codeRange, fakeQuantArray, initialStep, minMax, percentileRange, quantizeWeight, similarity, stepGrid, uniformFromRange, uniformQuant,
  dequantizeWeight, roundHalfUp, type Granularity, type Similarity,
} from '../quantizers.js';
import type { UniformQuant, WeightQuant } from '../spec.js';
import type { QuantizeMethod } from './method.js';

export type ScaleRule = 'minmax' | 'percentile' | 'mse' | 'cosine';

export interface UniformOptions {
  symmetric: boolean;
  granularity: Granularity;
  scale: ScaleRule;
  percentile: number;
  alpha: number;
  beta: number;
  grid: number;
  rounds: number;
  /** Images of the calibration set the grid search scores candidates on (all by default). */
  searchImages?: number;
}

export const UNIFORM_DEFAULTS: UniformOptions = {
  symmetric: true, granularity: 'tensor', scale: 'cosine', percentile: 99.99, alpha: 0.5, beta: 1.2, grid: 100, rounds: 1,
};

export const quantizeUniform: QuantizeMethod = (config, params, calib, options) => {
  const opts = uniformOptions(options.extra ?? {});
  const progress = options.progress ?? (() => undefined);
  checkBits('wbits', options.wbits);
  checkBits('abits', options.abits);
  const capture = captureFloat(config, params, calib.pixels, calib.count, {
    progress: (done, total) => progress(0, 1, `float capture ${done}/${total}`),
  });
  const search = opts.searchImages === undefined ? calib.count : Math.min(opts.searchImages, calib.count);
  const decisions = new Map<string, OpDecision>();
  const names = [...capture.ops.keys()];
  names.forEach((name, i) => {
    progress(i, names.length, name);
    const op = capture.ops.get(name) as LinearCapture | MatmulCapture;
    const part = subset(op, search, calib.count);
    decisions.set(name, op.kind === 'linear' ? calibrateLinear(op, part as LinearCapture, options.wbits, options.abits, opts) : calibrateMatmul(op, part as MatmulCapture, options.abits, opts));
  });
  progress(names.length, names.length, 'done');
  return assembleQuantizedViT({
    config, params, method: 'uniform', decisions, residual: residualQuantizers(capture.residualMaxAbs),
    options: { wbits: options.wbits, abits: options.abits, seed: options.seed, calibration: calib.count, ...opts },
  });
};

/** options.extra → UniformOptions, refusing unknown keys and bad values with one line. */
export function uniformOptions(extra: Record<string, unknown>): UniformOptions {
  const out: UniformOptions = { ...UNIFORM_DEFAULTS };
  for (const [key, raw] of Object.entries(extra)) {
    const bad = (expected: string): never => {
      throw new UserError(`uniform: option ${key} must be ${expected}, got ${describe(raw)}`);
    };
    const num = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    switch (key) {
      case 'symmetric':
        if (raw === true || raw === 'true') out.symmetric = true;
        else if (raw === false || raw === 'false') out.symmetric = false;
        else bad('true or false');
        break;
      case 'granularity':
        if (raw !== 'tensor' && raw !== 'channel') bad("'tensor' or 'channel'");
        out.granularity = raw as Granularity;
        break;
      case 'scale':
        if (raw !== 'minmax' && raw !== 'percentile' && raw !== 'mse' && raw !== 'cosine') bad("'minmax', 'percentile', 'mse' or 'cosine'");
        out.scale = raw as ScaleRule;
        break;
      case 'percentile':
        if (typeof num !== 'number' || !(num > 50 && num <= 100)) bad('a number in (50, 100]');
        out.percentile = num as number;
        break;
      case 'alpha':
      case 'beta':
        if (typeof num !== 'number' || !(num > 0 && num < 100)) bad('a positive number');
        out[key] = num as number;
        break;
      case 'grid':
      case 'rounds':
      case 'searchImages':
        if (typeof num !== 'number' || !Number.isInteger(num) || num < 1) bad('a positive integer');
        out[key] = num as number;
        break;
      default:
        throw new UserError(`uniform: unknown option ${describe(key)} (known: symmetric, granularity, scale, percentile, alpha, beta, grid, rounds, searchImages)`);
    }
  }
  if (out.alpha >= out.beta) throw new UserError(`uniform: option alpha (${out.alpha}) must be below beta (${out.beta})`);
  return out;
}

function checkBits(flag: string, bits: number): void {
  if (!Number.isInteger(bits) || bits < 2 || bits > 16) throw new UserError(`uniform: ${flag} must be an integer in 2…16, got ${describe(bits)}`);
}

// ---------------------------------------------------------------------------------------------

function calibrateLinear(full: LinearCapture, part: LinearCapture, wbits: number, abits: number, opts: UniformOptions): OpDecision {
  const fixedInput = full.name === 'patch_embed.proj';
  let input: UniformQuant = fixedInput ? pixelQuant() : rangeQuant(full.input.data, abits, opts, true);
  let weight = weightFromFactors(full, wbits, opts, new Float64Array(groupsOf(full, opts)).fill(1), false);
  if (opts.scale !== 'mse' && opts.scale !== 'cosine') return { kind: 'linear', input, weight };

  const metric: Similarity = opts.scale;
  const grid = stepGrid(1, opts.alpha, opts.beta, opts.grid);
  const { min, max } = minMax(full.input.data);
  const signed = !(min >= 0) || !opts.symmetric;
  if (!fixedInput) input = gridActQuant(min, max, abits, opts, 1, signed);
  weight = weightFromFactors(full, wbits, opts, new Float64Array(groupsOf(full, opts)).fill(1), true);
  const reference = part.output.data;
  for (let round = 0; round < opts.rounds; round++) {
    // Weights, with the input quantizer fixed.
    const xHat = fakeQuantArray(input, part.input.data, part.input.rows, part.input.cols);
    const candidates = grid.map((f) => weightFromFactors(full, wbits, opts, new Float64Array(groupsOf(full, opts)).fill(f), true));
    if (opts.granularity === 'channel') {
      const outs = full.shape[0];
      const best = new Float64Array(outs).fill(-Infinity);
      const factors = new Float64Array(outs).fill(1);
      candidates.forEach((w, k) => {
        const y = linearOutput(part, xHat, dequantizeWeight(w));
        for (let o = 0; o < outs; o++) {
          const s = similarity(metric, column(y, o, outs), column(reference, o, outs));
          if (s > best[o]) {
            best[o] = s;
            factors[o] = grid[k];
          }
        }
      });
      weight = weightFromFactors(full, wbits, opts, factors, true);
    } else {
      const k = argBest(candidates.length, (c) => similarity(metric, linearOutput(part, xHat, dequantizeWeight(candidates[c])), reference));
      weight = candidates[k];
    }
    if (fixedInput) continue;
    // The input, with the weights fixed.
    const wHat = dequantizeWeight(weight);
    const acts = grid.map((f) => gridActQuant(min, max, abits, opts, f, signed));
    const k = argBest(acts.length, (c) => similarity(metric, linearOutput(part, fakeQuantArray(acts[c], part.input.data, part.input.rows, part.input.cols), wHat), reference));
    input = acts[k];
  }
  return { kind: 'linear', input, weight };
}

function calibrateMatmul(full: MatmulCapture, part: MatmulCapture, abits: number, opts: UniformOptions): OpDecision {
  // P (softmax output) is non-negative: unsigned codes, zero point 0, whatever the symmetry option.
  const isP = full.name.endsWith('.pv');
  let a = rangeQuant(full.a.data, abits, opts, true, isP);
  let b = rangeQuant(full.b.data, abits, opts, true);
  if (opts.scale !== 'mse' && opts.scale !== 'cosine') return { kind: 'matmul', a, b };

  const metric: Similarity = opts.scale;
  const grid = stepGrid(1, opts.alpha, opts.beta, opts.grid);
  const ra = minMax(full.a.data);
  const rb = minMax(full.b.data);
  const aSigned = !isP && (!(ra.min >= 0) || !opts.symmetric);
  const bSigned = !(rb.min >= 0) || !opts.symmetric;
  const aOpts = isP ? { ...opts, symmetric: true } : opts;
  a = gridActQuant(isP ? 0 : ra.min, ra.max, abits, aOpts, 1, aSigned);
  b = gridActQuant(rb.min, rb.max, abits, opts, 1, bSigned);
  const reference = part.output.data;
  const fq = (q: UniformQuant, x: Operand): Float32Array => fakeQuantArray(q, x.data, x.rows, x.cols);
  for (let round = 0; round < opts.rounds; round++) {
    const bHat = fq(b, part.b);
    const as = grid.map((f) => gridActQuant(isP ? 0 : ra.min, ra.max, abits, aOpts, f, aSigned));
    a = as[argBest(as.length, (c) => similarity(metric, matmulOutput(part, fq(as[c], part.a), bHat), reference))];
    const aHat = fq(a, part.a);
    const bs = grid.map((f) => gridActQuant(rb.min, rb.max, abits, opts, f, bSigned));
    b = bs[argBest(bs.length, (c) => similarity(metric, matmulOutput(part, aHat, fq(bs[c], part.b)), reference))];
  }
  return { kind: 'matmul', a, b };
}

/** minmax / percentile activation quantizer (the starting point of a grid search too). */
function rangeQuant(x: Float32Array, bits: number, opts: UniformOptions, unsignedIfNonNegative: boolean, forceNonNegative = false): UniformQuant {
  const range = opts.scale === 'percentile' ? percentileRange(x, opts.percentile, opts.symmetric && !forceNonNegative) : minMax(x);
  if (forceNonNegative) return uniformFromRange(0, range.max, bits, true, true);
  return uniformFromRange(range.min, range.max, bits, opts.symmetric, unsignedIfNonNegative);
}

/**
 * Grid candidate f: symmetric → step f·Δ0 with Δ0 = max|x|/(2^(b−1) − 0.5) (signed) or max/(2^b − 0.5)
 * (unsigned, non-negative data); asymmetric → the range [f·min, f·max] on unsigned codes.
 */
function gridActQuant(min: number, max: number, bits: number, opts: UniformOptions, f: number, signed: boolean): UniformQuant {
  if (opts.symmetric) return uniformQuant(bits, signed, f * initialStep(Math.max(-min, max), bits, signed));
  return uniformFromRange(f * min, f * max, bits, false);
}

function groupsOf(cap: LinearCapture, opts: UniformOptions): number {
  return opts.granularity === 'channel' ? cap.shape[0] : 1;
}

/**
 * Weight codes with per-group scale factors: symmetric → f·Δ0 (grid, Δ0 = max|w|/(2^(b−1) − 0.5)) or
 * max|w|/(2^(b−1) − 1) (min-max); asymmetric → the range [f·min, f·max] with a signed zero point.
 */
function weightFromFactors(cap: LinearCapture, bits: number, opts: UniformOptions, factors: Float64Array, grid: boolean): WeightQuant {
  const [outs, ins] = cap.shape;
  const groups = factors.length;
  const per = groups === 1 ? outs * ins : ins;
  const scales = new Float32Array(groups);
  const zeroPoints = opts.symmetric ? undefined : new Int32Array(groups);
  const { lo, hi } = codeRange(bits, true);
  for (let g = 0; g < groups; g++) {
    const { min, max } = minMax(cap.weight.subarray(g * per, (g + 1) * per));
    if (opts.symmetric) {
      const m = Math.max(-min, max);
      scales[g] = grid ? factors[g] * initialStep(m, bits, true) : positive(m / hi);
    } else {
      const low = Math.min(min, 0) * factors[g];
      const high = Math.max(max, 0) * factors[g];
      const scale = positive((high - low) / (2 ** bits - 1));
      scales[g] = scale;
      (zeroPoints as Int32Array)[g] = Math.min(hi, Math.max(lo, lo - roundHalfUp(low / scale)));
    }
  }
  return quantizeWeight(cap.weight, cap.shape, bits, scales, zeroPoints);
}

function positive(scale: number): number {
  return scale > 0 && Number.isFinite(scale) ? scale : 2 ** -126;
}

function column(y: Float32Array, o: number, outs: number): Float32Array {
  const rows = y.length / outs;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = y[r * outs + o];
  return out;
}

/** The capture restricted to its first `images` images (rows are image-major in every operand). */
function subset<T extends LinearCapture | MatmulCapture>(op: T, images: number, total: number): T {
  if (images >= total) return op;
  const cut = (x: Operand): Operand => {
    const rows = (x.rows / total) * images;
    return { ...x, rows, data: x.data.subarray(0, rows * x.cols) };
  };
  if (op.kind === 'linear') return { ...op, input: cut(op.input), output: cut(op.output) };
  return { ...op, a: cut(op.a), b: cut(op.b), output: cut(op.output), groups: (op.groups / total) * images };
}
