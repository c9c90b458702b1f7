/**
 * Liu et al. 2021, "Post-Training Quantization for Vision Transformer" (NeurIPS'21; spec in
 * ../shared/QUANT-METHODS.md §5): plain symmetric uniform quantizers everywhere, with
 *
 *   similarity-aware scales  every linear layer's (Δ_W, Δ_X) maximise the Pearson correlation Γ of
 *                            its output with the float output, averaged over calibration images;
 *                            Δ_W and Δ_X alternate (≤ 20 rounds or until neither moves), each over
 *                            100 candidates linear in [0.5·Δ0, 1.2·Δ0], Δ0 from the maximum;
 *   ranking-aware Q·Kᵀ       the score product's (Δ_Q, Δ_K) maximise Γ − γ·L_rank, the hinge ranking
 *                            loss of ranking-loss.ts on the scores of every row (γ = 0.1, θ = 0.2);
 *   bias correction          after each round, the calibration mean of the output error
 *                            E[Ô − O] per output channel is subtracted from the layer bias;
 *   mixed precision          one bit-width per MSA (qkv, qk, pv, proj) and per MLP (fc1, fc2) of each
 *                            block, weights and activations alike, chosen to minimise
 *                            Σ Ω_{i,b} = ‖Y_i‖_*·‖Ŷ_i − Y_i‖² under Σ params_i·b_i ≤ params·wbits
 *                            by the exact multiple-choice knapsack (knapsack.ts).
 *
 * Calibration is parallel, as the paper's and PTQ4ViT's: every op sees the float network's inputs.
 * Where the paper leaves a choice open, this file takes one and says so:
 * - qkv is the paper's three layers W^Q, W^K, W^V fused: one input step (the datapath quantizes the
 *   input once) and one weight step per q/k/v block, each searched on its own block's Γ;
 * - L_rank is the paper's sum divided by the number of pairs, so γ = 0.1 weighs a mean hinge against a
 *   mean Γ ≤ 1; the literal sums (4·17·136 pairs per image against one Γ) are rankingWeight ≈ 925;
 * - Γ includes the layer bias (the layer's output); P and post-GELU inputs get the same signed
 *   quantizer as everything else (Ψ of §5a has no unsigned variant);
 * - Ω of an MSA is measured on its attention map, post-softmax by default (`attentionMap`), or on
 *   the pre-softmax scores, or on the post-softmax map after P·V's own quantizer; all three are
 *   recorded. The map depends only on qkv and qk (and P·V's quantizer of P in the third form), so
 *   proj bits never enter Ω. Maps and MLP features are in different units, and the knapsack adds
 *   them as the paper does: on the shipped model, post-softmax Ω is ~100× below MLP Ω and every
 *   MSA gets the narrowest width, pre-softmax Ω ~100× above and every MLP does.
 *   Sizes count weights only (qk and pv have none); patch_embed and head stay at wbits/abits;
 * - allocation 'random' and 'inverse' are the control experiments: the same knapsack over the Ω rows
 *   of the modules permuted at random (seeded) or in reverse order of sensitivity at wbits, so the
 *   bit-widths are spent the same way but on other modules.
 */
import { fieldError, UserError } from '../../config/errors.js';
import { headDim, numTokens, type ViTConfig, type ViTParams } from '../../model/config.js';
import { softmaxRows } from '../../model/layers/attention.js';
import { geluForward } from '../../model/layers/gelu.js';
import { linearForward } from '../../model/layers/linear.js';
import { createRng, shuffle } from '../../model/random.js';
import {
  assembleQuantizedViT, captureFloat, matmulOutput, pixelQuant, residualQuantizers,
  type FloatCapture, type LinearCapture, type MatmulCapture, type OpDecision,
} from '../assemble.js';
import { solveMultipleChoiceKnapsack } from '../knapsack.js';
import { nuclearNorm } from '../nuclear-norm.js';
import { dequantizeWeight, fakeQuantArray, initialStep, maxAbs, quantizeWeight, stepGrid, uniformQuant } from '../quantizers.js';
import { pairsPerRow, RANKING_MARGIN, RANKING_WEIGHT, rankingLoss } from '../ranking-loss.js';
import type { QuantizedViT, UniformQuant, WeightQuant } from '../spec.js';
import type { CalibrationSet, MethodOptions, QuantizeMethod } from './method.js';

export type Allocation = 'nuclear' | 'random' | 'inverse';
export type AttentionMap = 'post-softmax' | 'pre-softmax' | 'quantized-post-softmax';

/** The method's options (MethodOptions.extra), with their defaults. */
export interface Liu2021Options {
  /**
   * One bit-width per MSA and MLP from the nuclear-norm knapsack, shared by the module's weights and
   * activations as in the paper, so abits only sets the head's input (false: every op at wbits/abits).
   */
  mixedPrecision: boolean;
  /** Ranking-aware search of the Q·Kᵀ operands (false: Γ alone, like every other op). */
  ranking: boolean;
  biasCorrection: boolean;
  /** Bit-widths a module may take; default wbits−2 … wbits+2 within 2 … 8. */
  candidateBits: number[];
  allocation: Allocation;
  /** Which attention map Ω of an MSA measures. */
  attentionMap: AttentionMap;
  /** Rounds of the alternating search (the paper: 20 or convergence). */
  maxIterations: number;
  /** Points of each scale grid. */
  candidates: number;
  /**
   * γ against the pair-averaged L_rank (default the paper's 0.1). The paper's literal sums equal
   * γ·(pairs per image) here: 0.1·4·17·136 ≈ 925 for the shipped model.
   */
  rankingWeight: number;
}

/** The candidate grid [α·Δ0, β·Δ0] of the paper (§4.1). */
const GRID_LOW = 0.5;
const GRID_HIGH = 1.2;

/** What the calibration decided and measured, beyond the QuantizedViT itself. */
export interface Liu2021Report {
  options: Liu2021Options;
  /**
   * Per calibrated (op, bits — the weight's for a linear layer, the operands' for a product): rounds
   * run and the final objective (Γ, or Γ − γ·L_rank/pairs for a ranking-aware qk).
   */
  searches: { op: string; bits: number; rounds: number; similarity: number; rankingLossPerPair?: number }[];
  /** With mixed precision: per module its weight count, chosen bits and Ω per candidate bit-width. */
  modules?: {
    name: string;
    params: number;
    bits: number;
    omegaPostSoftmax?: number[];
    /** Ω of the post-softmax map as P·V consumes it (after its `a` quantizer). */
    omegaQuantizedPostSoftmax?: number[];
    omegaPreSoftmax?: number[];
    omegaFeature?: number[];
  }[];
  /** Σ params·bits of the chosen modules against the budget Σ params·wbits. */
  size?: { bits: number; budget: number };
}

/** The QuantizeMethod to register. */
export const liu2021: QuantizeMethod = (config, params, calib, options) => calibrateLiu2021(config, params, calib, options).model;

/** Liu et al. 2021 with its report (per-search objectives, Ω tables, chosen bit-widths). */
export function calibrateLiu2021(
  config: ViTConfig, params: ViTParams, calib: CalibrationSet, options: MethodOptions,
): { model: QuantizedViT; report: Liu2021Report } {
  const o = parseOptions(options);
  const { wbits, abits } = options;
  const capture = captureFloat(config, params, calib.pixels, calib.count, { progress: options.progress });
  const blockOps = ['attn.qkv', 'attn.qk', 'attn.pv', 'attn.proj', 'mlp.fc1', 'mlp.fc2'];
  const bitsToCalibrate = o.mixedPrecision ? o.candidateBits : [wbits];
  const total = 2 + config.depth * blockOps.length * bitsToCalibrate.length + (o.mixedPrecision ? 2 * config.depth : 0);
  let done = 0;
  const step = (what: string): void => options.progress?.(++done, total, what);
  const report: Liu2021Report = { options: o, searches: [] };

  // Every block op at every bit-width it may get: weights at b, activations at b (mixed precision)
  // or at wbits/abits (uniform).
  const calibrations = new Map<string, Calibration>();
  const key = (op: string, bits: number): string => `${op}@${bits}`;
  const calibrate = (op: string, w: number, a: number): Calibration => {
    const cap = capture.ops.get(op);
    if (!cap) throw new Error(`liu2021: no capture of ${op}`);
    const result = cap.kind === 'linear'
      ? calibrateLinear(cap, w, a, o, op === 'patch_embed.proj' ? pixelQuant() : undefined)
      : calibrateMatmul(cap, a, o, o.ranking && op.endsWith('.qk'), config.numHeads);
    report.searches.push({ op, bits: cap.kind === 'linear' ? w : a, rounds: result.rounds, similarity: result.similarity, ...(result.rankingLossPerPair === undefined ? {} : { rankingLossPerPair: result.rankingLossPerPair }) });
    step(op);
    return result;
  };
  for (const bits of bitsToCalibrate) {
    for (let i = 0; i < config.depth; i++) {
      for (const op of blockOps) {
        const name = `blocks.${i}.${op}`;
        calibrations.set(key(name, bits), calibrate(name, bits, o.mixedPrecision ? bits : abits));
      }
    }
  }
  const edges = new Map<string, Calibration>([
    ['patch_embed.proj', calibrate('patch_embed.proj', wbits, 8)],
    ['head', calibrate('head', wbits, abits)],
  ]);

  const moduleBits = new Map<string, number>();
  if (o.mixedPrecision) {
    const allocation = allocateBits(capture, calibrations, key, wbits, o, options.seed, step);
    for (const m of allocation.modules) moduleBits.set(m.name, m.bits);
    report.modules = allocation.modules;
    report.size = allocation.size;
  }

  const decisions = new Map<string, OpDecision>();
  const decide = (name: string, c: Calibration): void => {
    decisions.set(name, c.kind === 'linear' ? { kind: 'linear', input: c.input, weight: c.weight, bias: c.bias } : { kind: 'matmul', a: c.a, b: c.b });
  };
  decide('patch_embed.proj', edges.get('patch_embed.proj') as Calibration);
  for (let i = 0; i < config.depth; i++) {
    for (const op of blockOps) {
      const name = `blocks.${i}.${op}`;
      const module = `blocks.${i}.${op.split('.')[0]}`;
      decide(name, calibrations.get(key(name, moduleBits.get(module) ?? wbits)) as Calibration);
    }
  }
  decide('head', edges.get('head') as Calibration);

  const recorded: Record<string, unknown> = { wbits, abits, seed: options.seed, calibImages: calib.count, ...o };
  if (report.modules) recorded.moduleBits = Object.fromEntries(moduleBits);
  const model = assembleQuantizedViT({
    config, params, method: 'liu2021', options: recorded, decisions, residual: residualQuantizers(capture.residualMaxAbs),
  });
  return { model, report };
}

// ---------------------------------------------------------------------------------------------
// Options.

const OPTION_NAMES = ['mixedPrecision', 'ranking', 'biasCorrection', 'candidateBits', 'allocation', 'attentionMap', 'maxIterations', 'candidates', 'rankingWeight'];

/** MethodOptions.extra → Liu2021Options; a bad value is the user's mistake, in one line. */
export function parseOptions(options: MethodOptions): Liu2021Options {
  const { wbits, abits } = options;
  const extra = options.extra ?? {};
  const where = 'liu2021 options';
  for (const [field, bits] of [['wbits', wbits], ['abits', abits]] as const) {
    if (!Number.isInteger(bits) || bits < 2 || bits > 16) throw fieldError(where, field, 'an integer in 2…16', bits);
  }
  const unknown = Object.keys(extra).filter((k) => !OPTION_NAMES.includes(k));
  if (unknown.length > 0) throw new UserError(`${where}: unknown option ${unknown[0]} (known: ${OPTION_NAMES.join(', ')})`);
  const flag = (field: string, fallback: boolean): boolean => {
    const v = extra[field];
    if (v === undefined) return fallback;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    throw fieldError(where, field, 'true or false', v);
  };
  const oneOf = <T extends string>(field: string, allowed: readonly T[], fallback: T): T => {
    const v = extra[field];
    if (v === undefined) return fallback;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    throw fieldError(where, field, `one of ${allowed.join(', ')}`, v);
  };
  const count = (field: string, min: number, fallback: number): number => {
    const v = extra[field] === undefined ? fallback : Number(extra[field]);
    if (!Number.isInteger(v) || v < min) throw fieldError(where, field, `an integer ≥ ${min}`, extra[field]);
    return v;
  };
  const nonNegative = (field: string, fallback: number): number => {
    const v = extra[field] === undefined ? fallback : Number(extra[field]);
    if (!(Number.isFinite(v) && v >= 0)) throw fieldError(where, field, 'a number ≥ 0', extra[field]);
    return v;
  };
  let candidateBits: number[] = [];
  for (let b = Math.max(2, wbits - 2); b <= Math.min(8, wbits + 2); b++) candidateBits.push(b);
  const given = extra.candidateBits;
  if (given !== undefined) {
    // The CLI's --option candidateBits=3,4,5 arrives as a string, a single width as a number.
    const list = typeof given === 'string' ? given.split(',').map((s) => Number(s.trim())) : typeof given === 'number' ? [given] : given;
    if (!Array.isArray(list) || list.length === 0 || !list.every((b) => Number.isInteger(b) && b >= 2 && b <= 16)) {
      throw fieldError(where, 'candidateBits', 'a non-empty list of integers in 2…16', given);
    }
    candidateBits = [...new Set(list as number[])].sort((a, b) => a - b);
  }
  if (candidateBits.length === 0) candidateBits = [wbits];
  const mixedPrecision = flag('mixedPrecision', false);
  // The budget is Σ params·wbits, so it holds some assignment iff the narrowest candidate fits: say so before calibrating.
  if (mixedPrecision && candidateBits[0] > wbits) {
    throw new UserError(`${where}: candidateBits ${candidateBits.join(',')} cannot meet a mean of wbits = ${wbits} bits (the narrowest candidate is ${candidateBits[0]})`);
  }
  return {
    mixedPrecision,
    ranking: flag('ranking', true),
    biasCorrection: flag('biasCorrection', true),
    candidateBits,
    allocation: oneOf('allocation', ['nuclear', 'random', 'inverse'] as const, 'nuclear'),
    attentionMap: oneOf('attentionMap', ['post-softmax', 'pre-softmax', 'quantized-post-softmax'] as const, 'post-softmax'),
    maxIterations: count('maxIterations', 1, 20),
    candidates: count('candidates', 2, 100),
    rankingWeight: nonNegative('rankingWeight', RANKING_WEIGHT),
  };
}

// ---------------------------------------------------------------------------------------------
// Scale search.

interface LinearCalibration {
  kind: 'linear';
  input: UniformQuant;
  weight: WeightQuant;
  /** The float bias minus the bias correction (or the float bias). */
  bias: Float32Array;
  rounds: number;
  similarity: number;
  rankingLossPerPair?: undefined;
}

interface MatmulCalibration {
  kind: 'matmul';
  a: UniformQuant;
  b: UniformQuant;
  rounds: number;
  similarity: number;
  rankingLossPerPair?: number;
}

type Calibration = LinearCalibration | MatmulCalibration;

/**
 * Alternating search of a linear layer's steps. The weight has one step per group (q, k, v of qkv),
 * each searched on its own group's Γ; the input step on the mean Γ of the groups. `fixedInput`
 * (patch_embed's exact 8-bit pixels) is not searched.
 */
export function calibrateLinear(cap: LinearCapture, wbits: number, abits: number, o: Liu2021Options, fixedInput?: UniformQuant): LinearCalibration {
  const [outs, ins] = cap.shape;
  const groups = cap.name.endsWith('attn.qkv') ? 3 : 1;
  const per = outs / groups;
  const rows = cap.input.rows;
  const image = cap.input.tokens;
  const x = cap.input.data;
  const target = cap.output.data;
  const weights = Array.from({ length: groups }, (_, g) => cap.weight.subarray(g * per * ins, (g + 1) * per * ins));
  const wSteps = weights.map((w) => Math.fround(initialStep(maxAbs(w), wbits, true)));
  const wGrids = wSteps.map((d) => stepGrid(d, GRID_LOW, GRID_HIGH, o.candidates - 1).map(Math.fround));
  const xGrid = fixedInput ? undefined : stepGrid(initialStep(maxAbs(x), abits, true), GRID_LOW, GRID_HIGH, o.candidates - 1).map(Math.fround);
  let input = fixedInput ?? uniformQuant(abits, true, initialStep(maxAbs(x), abits, true));

  const xHat = fakeQuantArray(input, x, rows, ins);
  const wHat = new Float32Array(outs * ins);
  const fakeWeight = (g: number, scale: number, out: Float32Array): Float32Array => fakeQuantArray(uniformQuant(wbits, true, scale), weights[g], per, ins, out);
  for (let g = 0; g < groups; g++) fakeWeight(g, wSteps[g], wHat.subarray(g * per * ins, (g + 1) * per * ins));
  const bias = Float32Array.from(cap.bias);
  const groupBias = (g: number): Float32Array => bias.subarray(g * per, (g + 1) * per);
  const groupOut = new Float32Array(rows * per);
  const wCandidate = new Float32Array(per * ins);
  const fullOut = new Float32Array(rows * outs);
  const meanGroupSimilarity = (out: Float32Array): number => {
    let sum = 0;
    for (let g = 0; g < groups; g++) sum += meanImagePearson(target, outs, g * per, out, outs, g * per, per, rows, image);
    return sum / groups;
  };

  let rounds = 0;
  let similarity = -Infinity;
  for (let round = 0; round < o.maxIterations; round++) {
    rounds++;
    let moved = false;
    for (let g = 0; g < groups; g++) {
      let best = wSteps[g];
      let bestScore = -Infinity;
      for (const scale of wGrids[g]) {
        linearForward(xHat, fakeWeight(g, scale, wCandidate), groupBias(g), groupOut, rows, ins, per);
        const score = meanImagePearson(target, outs, g * per, groupOut, per, 0, per, rows, image);
        if (score > bestScore) {
          bestScore = score;
          best = scale;
        }
      }
      if (best !== wSteps[g]) moved = true;
      wSteps[g] = best;
      fakeWeight(g, best, wHat.subarray(g * per * ins, (g + 1) * per * ins));
    }
    if (xGrid) {
      const candidate = new Float32Array(rows * ins);
      let best = input;
      let bestScore = -Infinity;
      for (const scale of xGrid) {
        const q = uniformQuant(abits, true, scale);
        linearForward(fakeQuantArray(q, x, rows, ins, candidate), wHat, bias, fullOut, rows, ins, outs);
        const score = meanGroupSimilarity(fullOut);
        if (score > bestScore) {
          bestScore = score;
          best = q;
        }
      }
      if (best.scale[0] !== input.scale[0]) moved = true;
      input = best;
      fakeQuantArray(input, x, rows, ins, xHat);
    }
    if (o.biasCorrection) {
      // E[Ô − O] with the uncorrected bias, i.e. E[ε_W·X] + E[ε_X·W] + E[ε_X·ε_W] of the paper.
      linearForward(xHat, wHat, cap.bias, fullOut, rows, ins, outs);
      const error = new Float64Array(outs);
      for (let r = 0; r < rows; r++) for (let c = 0; c < outs; c++) error[c] += fullOut[r * outs + c] - target[r * outs + c];
      for (let c = 0; c < outs; c++) bias[c] = cap.bias[c] - error[c] / rows;
    }
    linearForward(xHat, wHat, bias, fullOut, rows, ins, outs);
    similarity = meanGroupSimilarity(fullOut);
    if (!moved) break;
  }

  const scales = new Float32Array(outs);
  for (let g = 0; g < groups; g++) scales.fill(wSteps[g], g * per, (g + 1) * per);
  const weight = quantizeWeight(cap.weight, cap.shape, wbits, groups === 1 ? Float32Array.of(wSteps[0]) : scales);
  return { kind: 'linear', input, weight, bias, rounds, similarity };
}

/**
 * Alternating search of the two activation steps of Q·Kᵀ or P·V (b first, in the role of the
 * weight). With `ranking` the objective is Γ − γ·L_rank / pairs on the scores.
 */
export function calibrateMatmul(cap: MatmulCapture, bits: number, o: Liu2021Options, ranking: boolean, heads: number): MatmulCalibration {
  const t = cap.a.tokens;
  const image = heads * t;
  const rows = cap.output.rows;
  const cols = cap.output.cols;
  const target = cap.output.data;
  const pairs = rows * pairsPerRow(cols);
  const objective = (out: Float32Array): { score: number; loss?: number } => {
    const gamma = meanImagePearson(target, cols, 0, out, cols, 0, cols, rows, image);
    if (!ranking) return { score: gamma };
    const loss = rankingLoss(target, out, rows, cols, RANKING_MARGIN) / pairs;
    return { score: gamma - o.rankingWeight * loss, loss };
  };
  const operands = [cap.a, cap.b];
  const quantizers = operands.map((x) => uniformQuant(bits, true, initialStep(maxAbs(x.data), bits, true)));
  const grids = operands.map((x) => stepGrid(initialStep(maxAbs(x.data), bits, true), GRID_LOW, GRID_HIGH, o.candidates - 1));
  const hats = operands.map((x, i) => fakeQuantArray(quantizers[i], x.data, x.rows, x.cols));
  const out = new Float32Array(rows * cols);

  let rounds = 0;
  let last = objective(matmulOutput(cap, hats[0], hats[1], out));
  for (let round = 0; round < o.maxIterations; round++) {
    rounds++;
    let moved = false;
    for (const i of [1, 0]) {
      const x = operands[i];
      const candidate = new Float32Array(x.data.length);
      let best = quantizers[i];
      let bestScore = -Infinity;
      for (const scale of grids[i]) {
        const q = uniformQuant(bits, true, scale);
        fakeQuantArray(q, x.data, x.rows, x.cols, candidate);
        const score = objective(matmulOutput(cap, i === 0 ? candidate : hats[0], i === 1 ? candidate : hats[1], out)).score;
        if (score > bestScore) {
          bestScore = score;
          best = q;
        }
      }
      if (best.scale[0] !== quantizers[i].scale[0]) moved = true;
      quantizers[i] = best;
      fakeQuantArray(best, x.data, x.rows, x.cols, hats[i]);
    }
    last = objective(matmulOutput(cap, hats[0], hats[1], out));
    if (!moved) break;
  }
  return { kind: 'matmul', a: quantizers[0], b: quantizers[1], rounds, similarity: last.score, rankingLossPerPair: last.loss };
}

/**
 * (1/N)·Σ_images Γ(O_i, Ô_i): the Pearson correlation of each image's flattened output, `image`
 * rows of `cols` columns taken from column `offset` of row-major arrays of the given widths.
 */
export function meanImagePearson(
  fp: Float32Array, fpWidth: number, fpOffset: number, q: Float32Array, qWidth: number, qOffset: number,
  cols: number, rows: number, image: number,
): number {
  const images = rows / image;
  const n = image * cols;
  let total = 0;
  for (let im = 0; im < images; im++) {
    let mx = 0;
    let my = 0;
    for (let r = im * image; r < (im + 1) * image; r++) {
      for (let c = 0; c < cols; c++) {
        mx += fp[r * fpWidth + fpOffset + c];
        my += q[r * qWidth + qOffset + c];
      }
    }
    mx /= n;
    my /= n;
    let xy = 0;
    let xx = 0;
    let yy = 0;
    for (let r = im * image; r < (im + 1) * image; r++) {
      for (let c = 0; c < cols; c++) {
        const a = fp[r * fpWidth + fpOffset + c] - mx;
        const b = q[r * qWidth + qOffset + c] - my;
        xy += a * b;
        xx += a * a;
        yy += b * b;
      }
    }
    total += xx === 0 || yy === 0 ? (xx === yy ? 1 : 0) : xy / Math.sqrt(xx * yy);
  }
  return total / images;
}

// ---------------------------------------------------------------------------------------------
// Mixed precision.

type ModuleReport = NonNullable<Liu2021Report['modules']>[number];

/**
 * Ω_{i,b} of every module at every candidate bit-width (the module alone quantized, on float inputs),
 * then the knapsack under Σ params·b ≤ Σ params·wbits.
 */
function allocateBits(
  capture: FloatCapture, calibrations: Map<string, Calibration>, key: (op: string, bits: number) => string,
  wbits: number, o: Liu2021Options, seed: number, step: (what: string) => void,
): { modules: ModuleReport[]; size: { bits: number; budget: number } } {
  const { config } = capture;
  const linear = (name: string): LinearCapture => capture.ops.get(name) as LinearCapture;
  const modules: ModuleReport[] = [];
  const omega: number[][] = [];
  for (let i = 0; i < config.depth; i++) {
    const pre = `blocks.${i}.`;
    const attn = msaSensitivity(capture, i, o.candidateBits.map((b) => [
      calibrations.get(key(pre + 'attn.qkv', b)) as LinearCalibration,
      calibrations.get(key(pre + 'attn.qk', b)) as MatmulCalibration,
      calibrations.get(key(pre + 'attn.pv', b)) as MatmulCalibration,
    ]));
    modules.push({
      name: pre + 'attn', params: weightCount(linear(pre + 'attn.qkv')) + weightCount(linear(pre + 'attn.proj')), bits: 0,
      omegaPostSoftmax: attn.post, omegaPreSoftmax: attn.pre, omegaQuantizedPostSoftmax: attn.quantizedPost,
    });
    omega.push(o.attentionMap === 'post-softmax' ? attn.post : o.attentionMap === 'pre-softmax' ? attn.pre : attn.quantizedPost);
    step(pre + 'attn sensitivity');
    const mlp = mlpSensitivity(capture, i, o.candidateBits.map((b) => [
      calibrations.get(key(pre + 'mlp.fc1', b)) as LinearCalibration,
      calibrations.get(key(pre + 'mlp.fc2', b)) as LinearCalibration,
    ]));
    modules.push({ name: pre + 'mlp', params: weightCount(linear(pre + 'mlp.fc1')) + weightCount(linear(pre + 'mlp.fc2')), bits: 0, omegaFeature: mlp });
    omega.push(mlp);
    step(pre + 'mlp sensitivity');
  }

  const rows = permuteSensitivities(omega, o, wbits, seed);
  const budget = modules.reduce((sum, m) => sum + m.params * wbits, 0);
  const items = modules.map((m, i) => o.candidateBits.map((b, j) => ({ cost: m.params * b, value: rows[i][j] })));
  const what = `liu2021 mixed precision (wbits ${wbits}, candidateBits ${o.candidateBits.join(',')})`;
  const solution = solveMultipleChoiceKnapsack(items, budget, what);
  modules.forEach((m, i) => (m.bits = o.candidateBits[solution.choice[i]]));
  return { modules, size: { bits: solution.cost, budget } };
}

/**
 * The Ω rows the knapsack sees: the measured ones ('nuclear'), or the same rows handed to other
 * modules — a seeded random permutation, or the reverse of the sensitivity order at wbits (the most
 * sensitive module gets the least sensitive one's row).
 */
function permuteSensitivities(omega: number[][], o: Liu2021Options, wbits: number, seed: number): number[][] {
  if (o.allocation === 'nuclear') return omega;
  const order = omega.map((_, i) => i);
  if (o.allocation === 'random') {
    shuffle(createRng(seed), order);
    return order.map((j) => omega[j]);
  }
  const at = o.candidateBits.includes(wbits) ? o.candidateBits.indexOf(wbits) : Math.floor(o.candidateBits.length / 2);
  const ranked = [...order].sort((a, b) => omega[b][at] - omega[a][at] || a - b);
  const rows = new Array<number[]>(omega.length);
  for (let r = 0; r < ranked.length; r++) rows[ranked[r]] = omega[ranked[ranked.length - 1 - r]];
  return rows;
}

function weightCount(cap: LinearCapture): number {
  return cap.shape[0] * cap.shape[1];
}

/**
 * Ω of block i's MSA at each bit-width: qkv and the Q·Kᵀ operands quantized with that width's
 * calibration, on the float qkv input; per (image, head) ‖Y‖_*·‖Ŷ − Y‖²_F, averaged. Measured on the
 * pre-softmax scores, the post-softmax map, and that map after P·V's quantizer of P.
 */
function msaSensitivity(
  capture: FloatCapture, i: number, perBits: [LinearCalibration, MatmulCalibration, MatmulCalibration][],
): { post: number[]; pre: number[]; quantizedPost: number[] } {
  const { config } = capture;
  const qkv = capture.ops.get(`blocks.${i}.attn.qkv`) as LinearCapture;
  const qk = capture.ops.get(`blocks.${i}.attn.qk`) as MatmulCapture;
  const pv = capture.ops.get(`blocks.${i}.attn.pv`) as MatmulCapture;
  const t = numTokens(config);
  const hd = headDim(config);
  const d = config.embedDim;
  const rows = qkv.input.rows;
  const scores = qk.output.data;
  const probs = pv.a.data;
  const norms = (y: Float32Array): Float64Array => Float64Array.from({ length: qk.groups }, (_, g) => nuclearNorm(y.subarray(g * t * t, (g + 1) * t * t), t, t));
  const preNorms = norms(scores);
  const postNorms = norms(probs);
  const post: number[] = [];
  const pre: number[] = [];
  const quantizedPost: number[] = [];
  for (const [qkvCal, qkCal, pvCal] of perBits) {
    const x = fakeQuantArray(qkvCal.input, qkv.input.data, rows, d);
    const y = new Float32Array(rows * 3 * d);
    linearForward(x, dequantizeWeight(qkvCal.weight), qkvCal.bias, y, rows, d, 3 * d);
    const qHat = fakeQuantArray(qkCal.a, splitHeads(y, 3 * d, 0, capture.images, t, config.numHeads, hd), qk.a.rows, hd);
    const kHat = fakeQuantArray(qkCal.b, splitHeads(y, 3 * d, d, capture.images, t, config.numHeads, hd), qk.b.rows, hd);
    const sHat = matmulOutput(qk, qHat, kHat);
    pre.push(weightedError(scores, sHat, preNorms, t * t));
    softmaxRows(sHat, qk.output.rows, t);
    post.push(weightedError(probs, sHat, postNorms, t * t));
    quantizedPost.push(weightedError(probs, fakeQuantArray(pvCal.a, sHat, qk.output.rows, t), postNorms, t * t));
  }
  return { post, pre, quantizedPost };
}

/** Ω of block i's MLP at each bit-width: fc1 → GELU → fc2 quantized, on the float fc1 input; per image ‖Y‖_*·‖Ŷ − Y‖²_F. */
function mlpSensitivity(capture: FloatCapture, i: number, perBits: [LinearCalibration, LinearCalibration][]): number[] {
  const fc1 = capture.ops.get(`blocks.${i}.mlp.fc1`) as LinearCapture;
  const fc2 = capture.ops.get(`blocks.${i}.mlp.fc2`) as LinearCapture;
  const t = fc1.input.tokens;
  const [hidden, d] = fc1.shape;
  const rows = fc1.input.rows;
  const target = fc2.output.data;
  const norms = Float64Array.from({ length: capture.images }, (_, im) => nuclearNorm(target.subarray(im * t * d, (im + 1) * t * d), t, d));
  return perBits.map(([c1, c2]) => {
    const h = new Float32Array(rows * hidden);
    linearForward(fakeQuantArray(c1.input, fc1.input.data, rows, d), dequantizeWeight(c1.weight), c1.bias, h, rows, d, hidden);
    geluForward(h, h, rows * hidden);
    const y = new Float32Array(rows * d);
    linearForward(fakeQuantArray(c2.input, h, rows, hidden), dequantizeWeight(c2.weight), c2.bias, y, rows, hidden, d);
    return weightedError(target, y, norms, t * d);
  });
}

/** mean over blocks k of norms[k]·‖ŷ_k − y_k‖² (blocks of `size` consecutive values). */
function weightedError(y: Float32Array, yHat: Float32Array, norms: Float64Array, size: number): number {
  let total = 0;
  for (let k = 0; k < norms.length; k++) {
    let sq = 0;
    for (let j = k * size; j < (k + 1) * size; j++) sq += (yHat[j] - y[j]) ** 2;
    total += norms[k] * sq;
  }
  return total / norms.length;
}

/** Columns offset + h·hd … of [images·T, width] rows → [images·H·T, hd], head-contiguous per image (the capture's layout). */
function splitHeads(src: Float32Array, width: number, offset: number, images: number, t: number, heads: number, hd: number): Float32Array {
  const dst = new Float32Array(images * heads * t * hd);
  for (let b = 0; b < images; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < t; i++) {
        const from = (b * t + i) * width + offset + h * hd;
        dst.set(src.subarray(from, from + hd), ((b * heads + h) * t + i) * hd);
      }
    }
  }
  return dst;
}
