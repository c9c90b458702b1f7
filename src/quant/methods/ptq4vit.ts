/**
 * PTQ4ViT (Yuan et al., ECCV'22) as the paper defines it (../shared/QUANT-METHODS.md §4), not as its
 * released code computes it (§11.1–3):
 *
 * - twin-uniform quantization of the post-softmax P (A operand of attn.pv): split 2^−i, i ∈ 0…19,
 *   an element is quantized only in the range it falls in, the two steps differ by 2^i;
 * - twin-uniform quantization of the post-GELU fc2 input: negative step fixed at 0.16997/2^(b−1),
 *   positive step negScale·2^m — the power-of-two ratio the hardware needs is enforced by searching m;
 * - Hessian-guided scale search: squared output error weighted by the squared gradient of
 *   cross-entropy on the labels w.r.t. the layer output (hessian.ts), on a 101-point grid
 *   Δ0·(0.01 … 1.2), 3 rounds alternating weight and activation (A and B for the attention products),
 *   32 calibration images, every op calibrated on the FP network's inputs (parallel calibration);
 * - the q, k and v thirds of attn.qkv's weight get separate steps; every other weight and activation
 *   is per-tensor symmetric uniform, except patch_embed's weight (per output channel, the conv
 *   granularity of the paper's configs) whose input is the exact 8-bit image.
 *
 * Ablation switches in `extra` (the paper's 2×2×2 table): twinSoftmax, twinGelu (false → uniform;
 * P then gets an unsigned b-bit quantizer, the stronger baseline for a non-negative tensor),
 * metric 'hessian' | 'cosine'.
 */
import { describe, fieldError, UserError } from '../../config/errors.js';
import { gemm } from '../../kernels/gemm.js';
import type { ViTConfig, ViTParams } from '../../model/config.js';
import { createRng } from '../../model/random.js';
import {
  assembleQuantizedViT, captureFloat, linearOutput, matmulOutput, pixelQuant, residualQuantizers,
  type LinearCapture, type MatmulCapture, type OpDecision,
} from '../assemble.js';
import { outputGradients } from '../hessian.js';
import { blockScorer, fakeQuantWeightRows, wholeScore, type OutputMetric } from '../output-search.js';
import { argBest, fakeQuantArray, initialStep, maxAbs, quantizeWeight, stepGrid, uniformQuant } from '../quantizers.js';
import type { ActQuant, QuantizedViT, TwinGeluQuant, TwinSoftmaxQuant } from '../spec.js';
import type { CalibrationSet, MethodOptions } from './method.js';

/** GELU's minimum is −0.16997; the negative range's codes −2^(b−1)…0 cover it exactly. */
export const GELU_MIN_MAGNITUDE = 0.16997;
/** Split exponents of the softmax twin quantizer: 2^−i for i < 20. */
export const SOFTMAX_SPLITS = 20;
/** Candidate shifts m of the post-GELU positive step (the README: m ≤ 15 is enough). */
export const GELU_SHIFTS = 16;

export interface Ptq4vitOptions {
  twinSoftmax: boolean;
  twinGelu: boolean;
  metric: 'hessian' | 'cosine';
  /**
   * Labels the Hessian metric's cross-entropy uses: the ground truth ('true', the paper's task loss) or
   * one class per image drawn from the FP softmax with the method's seed ('sampled', a true-Fisher
   * estimate whose gradients do not vanish on confidently right images).
   */
  gradientLabels: 'true' | 'sampled';
  calibImages: number;
  rounds: number;
  /** Grid Δ0·(alpha + i·(beta − alpha)/(points − 1)), i = 0 … points − 1. */
  points: number;
  alpha: number;
  beta: number;
}

export const PTQ4VIT_DEFAULTS: Ptq4vitOptions = {
  twinSoftmax: true, twinGelu: true, metric: 'hessian', gradientLabels: 'true', calibImages: 32, rounds: 3, points: 101, alpha: 0.01, beta: 1.2,
};

export function ptq4vit(config: ViTConfig, params: ViTParams, calib: CalibrationSet, options: MethodOptions): QuantizedViT {
  const opts = ptq4vitOptions(options);
  const { wbits, abits } = options;
  const count = Math.min(opts.calibImages, calib.count);
  const progress = options.progress;
  const capture = captureFloat(config, params, calib.pixels, count);
  const labels = opts.gradientLabels === 'true' ? calib.labels : sampleLabels(capture.logits, count, config.numClasses, options.seed);
  const grads = opts.metric === 'hessian' ? outputGradients(config, params, calib.pixels, labels, count) : undefined;

  const decisions = new Map<string, OpDecision>();
  const names = [...capture.ops.keys()];
  names.forEach((name, done) => {
    progress?.(done, names.length, name);
    const cap = capture.ops.get(name);
    if (!cap) throw new Error(`ptq4vit: nothing captured for ${name}`);
    const grad = grads?.get(name);
    decisions.set(name, cap.kind === 'linear' ? searchLinear(cap, grad, wbits, abits, opts) : searchMatmul(cap, grad, abits, opts));
  });
  progress?.(names.length, names.length, 'done');

  return assembleQuantizedViT({
    config, params, method: 'ptq4vit',
    options: { wbits, abits, seed: options.seed, ...opts, calibImages: count },
    decisions, residual: residualQuantizers(capture.residualMaxAbs),
  });
}

/** The options with defaults filled in; anything wrong is one line naming the field. */
export function ptq4vitOptions(options: MethodOptions): Ptq4vitOptions {
  checkBits('wbits', options.wbits);
  checkBits('abits', options.abits);
  const extra = options.extra ?? {};
  for (const key of Object.keys(extra)) {
    if (!(key in PTQ4VIT_DEFAULTS)) throw new UserError(`ptq4vit: unknown option ${describe(key)} (known: ${Object.keys(PTQ4VIT_DEFAULTS).join(', ')})`);
  }
  const opts = { ...PTQ4VIT_DEFAULTS, ...extra } as Ptq4vitOptions;
  for (const key of ['twinSoftmax', 'twinGelu'] as const) {
    if (typeof opts[key] !== 'boolean') throw fieldError('ptq4vit', `extra.${key}`, 'true or false', opts[key]);
  }
  if (opts.metric !== 'hessian' && opts.metric !== 'cosine') throw fieldError('ptq4vit', 'extra.metric', '"hessian" or "cosine"', opts.metric);
  if (opts.gradientLabels !== 'true' && opts.gradientLabels !== 'sampled') {
    throw fieldError('ptq4vit', 'extra.gradientLabels', '"true" or "sampled"', opts.gradientLabels);
  }
  for (const key of ['calibImages', 'rounds', 'points'] as const) {
    if (!Number.isInteger(opts[key]) || opts[key] < 1) throw fieldError('ptq4vit', `extra.${key}`, 'a positive integer', opts[key]);
  }
  if (!(opts.alpha > 0 && opts.beta > opts.alpha && Number.isFinite(opts.beta))) {
    throw fieldError('ptq4vit', 'extra.alpha/beta', '0 < alpha < beta', [opts.alpha, opts.beta]);
  }
  return opts;
}

/** One class per image drawn from softmax(logits) [count, classes], seeded. */
function sampleLabels(logits: Float32Array, count: number, classes: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const max = Math.max(...row);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    let u = rng.nextFloat() * sum;
    let k = 0;
    while (k < classes - 1 && (u -= Math.exp(row[k] - max)) >= 0) k++;
    labels[i] = k;
  }
  return labels;
}

function checkBits(field: string, bits: number): void {
  if (!Number.isInteger(bits) || bits < 2 || bits > 16) throw fieldError('ptq4vit', field, 'an integer in 2…16 (twin codes need a flag bit and a magnitude bit)', bits);
}

/**
 * Weight step(s) and input quantizer of one linear op. Weight groups (contiguous output rows with one
 * step) are searched on their own output columns, which is exact for a separable metric; then the
 * input quantizer on the whole output. Alternated `rounds` times.
 */
function searchLinear(cap: LinearCapture, grad: Float32Array | undefined, wbits: number, abits: number, opts: Ptq4vitOptions): OpDecision {
  const [outs, ins] = cap.shape;
  const rows = cap.input.rows;
  const metric: OutputMetric = opts.metric;
  const score = blockScorer(metric, cap.output.data, rows, outs, grad);
  const x = cap.input.data;

  const groupRows = cap.name === 'patch_embed.proj' ? 1 : cap.name.endsWith('attn.qkv') ? outs / 3 : outs;
  const groups = outs / groupRows;
  const steps = new Float64Array(groups);
  for (let g = 0; g < groups; g++) steps[g] = initialStep(maxAbs(cap.weight.subarray(g * groupRows * ins, (g + 1) * groupRows * ins)), wbits, true);
  const initial = Float64Array.from(steps);

  const candidates = inputCandidates(cap, abits, opts);
  let input = candidates.length === 1 ? candidates[0] : candidates[initialInput(cap, abits, opts)];
  const xq = new Float32Array(x.length);
  fakeQuantArray(input, x, rows, ins, xq);

  const wBlock = new Float32Array(groupRows * ins);
  const out = new Float32Array(rows * groupRows);
  const wq = new Float32Array(outs * ins);
  const full = new Float32Array(rows * outs);
  const xc = new Float32Array(x.length);
  // With a fixed input (patch_embed's exact pixels) the groups are independent: one round says it all.
  const rounds = candidates.length === 1 ? 1 : opts.rounds;
  for (let round = 0; round < rounds; round++) {
    for (let g = 0; g < groups; g++) {
      const grid = stepGrid(initial[g], opts.alpha, opts.beta, opts.points - 1);
      const bias = cap.bias.subarray(g * groupRows, (g + 1) * groupRows);
      steps[g] = grid[argBest(grid.length, (i) => {
        fakeQuantWeightRows(cap.weight, ins, g * groupRows, groupRows, wbits, grid[i], wBlock);
        blockLinear(xq, wBlock, bias, out, rows, ins, groupRows);
        return score(out, g * groupRows, groupRows);
      })];
    }
    if (candidates.length === 1) break;
    for (let g = 0; g < groups; g++) fakeQuantWeightRows(cap.weight, ins, g * groupRows, groupRows, wbits, steps[g], wq.subarray(g * groupRows * ins));
    const whole = wholeScore(score, outs);
    input = candidates[argBest(candidates.length, (i) => whole(linearOutput(cap, fakeQuantArray(candidates[i], x, rows, ins, xc), wq, cap.bias, full)))];
    fakeQuantArray(input, x, rows, ins, xq);
  }

  const scales = new Float32Array(outs);
  for (let o = 0; o < outs; o++) scales[o] = steps[Math.floor(o / groupRows)];
  const weight = quantizeWeight(cap.weight, cap.shape, wbits, groups === 1 ? scales.subarray(0, 1) : scales);
  return { kind: 'linear', input, weight };
}

/** The input quantizers a linear op may choose from. */
function inputCandidates(cap: LinearCapture, abits: number, opts: Ptq4vitOptions): ActQuant[] {
  if (cap.name === 'patch_embed.proj') return [pixelQuant()];
  if (cap.name.endsWith('mlp.fc2') && opts.twinGelu) {
    const negScale = GELU_MIN_MAGNITUDE / 2 ** (abits - 1);
    return Array.from({ length: GELU_SHIFTS }, (_, m): TwinGeluQuant => ({ kind: 'twin-gelu', bits: abits, negScale, posShift: m }));
  }
  return uniformGrid(maxAbs(cap.input.data), abits, true, opts);
}

/** Where the alternation starts: Δ0 itself (grid point with factor 1), or the smallest twin shift covering max x. */
function initialInput(cap: LinearCapture, abits: number, opts: Ptq4vitOptions): number {
  if (cap.name.endsWith('mlp.fc2') && opts.twinGelu) {
    const negScale = GELU_MIN_MAGNITUDE / 2 ** (abits - 1);
    const need = maxAbs(cap.input.data) / (negScale * (2 ** (abits - 1) - 1));
    return Math.min(GELU_SHIFTS - 1, Math.max(0, Math.ceil(Math.log2(Math.max(need, 1)))));
  }
  return gridIndexOfOne(opts);
}

function gridIndexOfOne(opts: Ptq4vitOptions): number {
  const n = opts.points - 1;
  return Math.max(0, Math.min(n, Math.round(((1 - opts.alpha) * n) / (opts.beta - opts.alpha))));
}

function uniformGrid(maxAbsValue: number, bits: number, signed: boolean, opts: Ptq4vitOptions): ActQuant[] {
  return stepGrid(initialStep(maxAbsValue, bits, signed), opts.alpha, opts.beta, opts.points - 1).map((s) => uniformQuant(bits, signed, s));
}

/** x̂ [rows, in] · ŵ [n, in]ᵀ + bias [n] → out [rows, n]: one weight group's output columns. */
function blockLinear(x: Float32Array, w: Float32Array, bias: Float32Array, out: Float32Array, rows: number, ins: number, n: number): void {
  if (n === 1) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let i = 0; i < ins; i++) s += x[r * ins + i] * w[i];
      out[r] = s + bias[0];
    }
    return;
  }
  gemm(x, w, out, { m: rows, k: ins, n, transB: true });
  for (let r = 0; r < rows; r++) for (let o = 0; o < n; o++) out[r * n + o] += bias[o];
}

/**
 * Both operands of Q·Kᵀ or P·V, alternating A then B for `rounds` rounds. P takes the twin-softmax
 * quantizer (split searched over 2^−i) or, without it, an unsigned uniform one; Q, K and V are
 * signed symmetric uniform.
 */
function searchMatmul(cap: MatmulCapture, grad: Float32Array | undefined, abits: number, opts: Ptq4vitOptions): OpDecision {
  const score = wholeScore(blockScorer(opts.metric, cap.output.data, cap.output.rows, cap.output.cols, grad), cap.output.cols);
  const isPv = cap.name.endsWith('.pv');
  const aCandidates: ActQuant[] = isPv && opts.twinSoftmax
    ? Array.from({ length: SOFTMAX_SPLITS }, (_, i): TwinSoftmaxQuant => ({ kind: 'twin-softmax', bits: abits, splitExponent: i }))
    : uniformGrid(maxAbs(cap.a.data), abits, !isPv, opts);
  const bCandidates = uniformGrid(maxAbs(cap.b.data), abits, true, opts);
  const one = gridIndexOfOne(opts);
  let a = isPv && opts.twinSoftmax ? aCandidates[0] : aCandidates[one];
  let b = bCandidates[one];

  const aq = new Float32Array(cap.a.data.length);
  const bq = fakeQuantArray(b, cap.b.data, cap.b.rows, cap.b.cols);
  const out = new Float32Array(cap.output.data.length);
  for (let round = 0; round < opts.rounds; round++) {
    a = aCandidates[argBest(aCandidates.length, (i) => score(matmulOutput(cap, fakeQuantArray(aCandidates[i], cap.a.data, cap.a.rows, cap.a.cols, aq), bq, out)))];
    fakeQuantArray(a, cap.a.data, cap.a.rows, cap.a.cols, aq);
    const bTry = new Float32Array(cap.b.data.length);
    b = bCandidates[argBest(bCandidates.length, (i) => score(matmulOutput(cap, aq, fakeQuantArray(bCandidates[i], cap.b.data, cap.b.rows, cap.b.cols, bTry), out)))];
    fakeQuantArray(b, cap.b.data, cap.b.rows, cap.b.cols, bq);
  }
  return { kind: 'matmul', a, b };
}
