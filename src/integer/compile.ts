/**
 * QuantizedViT → IntegerProgram: every constant the integer datapath needs, computed once — weight
 * operands, biases in the accumulator domain, dyadic multipliers of every requantizer, threshold and
 * noise tables, the nonlinear kernels' constants. The engine (engine.ts) then only moves integers.
 *
 * The datapath (docs/integer-engine.md has the derivations):
 *   pixels → u8 codes → patch_embed (bias and position embedding preloaded in the accumulator)
 *     → residual[0] (signed 16-bit; the class token's row is a constant)
 *   per block: I-LayerNorm → qkv.input unit → qkv → Q, K, V units → Q·Kᵀ → softmax (integer, scale
 *     2^−15) → P unit → P·V (twin: two accumulators) → proj.input unit → proj → residual add (one
 *     dyadic sum of the stream and the branch) → I-LayerNorm → fc1.input unit → fc1 → GELU input
 *     (16-bit) → integer GELU → fc2.input unit → fc2 (twin: two accumulators) → residual add
 *   I-LayerNorm of the class tokens → head.input unit → head → logits = accumulator · its scale.
 * A QKR block (OFQ, spec.ts) starts its attention differently:
 *   I-LayerNorm → X unit (X codes [m, C], per-token steps allowed) → attn.v → V unit
 *                                                                 → attn.qkr → U unit [m, H·C]
 *   per (image, head) X_b·U_b,hᵀ → integer softmax with one constants set per score row (row t's
 *   scale is s_X[t]·s_U·d^−½) → P unit → P·V … as above.
 */
import { headDim, mlpHidden, numPatches, numTokens, type Tensor, type ViTConfig } from '../model/config.js';
import { attentionOf, type ActQuant, type QuantizedViT, type QuantLinear, type QuantMatmul, type UniformQuant, type WeightQuant } from '../quant/spec.js';
import { DEFAULT_ACC_BITS, MAX_ACC_BITS, type Accumulator, type OverflowMode } from './accumulator.js';
import { iGelu, iGeluConstants, iSoftmaxConstants, type IBertSoftmaxConstants, type IGeluConstants } from './ibert.js';
import { layerNormStep, OUT_FRACTION_BITS, shiftGelu, shiftGeluConstants, shiftmaxConstants, type GeluConstants, type SoftmaxConstants } from './ivit.js';
import { compileUnit, type OperandMeaning, type QuantizerUnit } from './quantizer-unit.js';
import { dyadic, dyadicCommon, dyadicTable, type DyadicTable } from './requant.js';

export type NonlinearSet = 'ivit' | 'ibert';

export interface CompileOptions {
  /** Accumulator width, 2…53 (default 32). */
  accBits?: number;
  overflow?: OverflowMode;
  nonlinear?: NonlinearSet;
}

/** A linear layer: operands, accumulator-domain bias and the real scale of its accumulator. */
export interface LinearStage {
  name: string;
  ins: number;
  outs: number;
  /** The unit producing this layer's input operand. */
  input: QuantizerUnit;
  /** [outs × ins] weight operands (codes minus zero point). */
  weight: Int16Array;
  /** [biasRows × outs] accumulator-domain bias (the effective bias, the input's zero point folded in). */
  bias: Float64Array;
  biasRows: number;
  /** Real value of one accumulator step, [scaleRows × outs]. */
  accScale: Float64Array;
  scaleRows: number;
  /** log2 of the large step over the small one when the input is twin-uniform. */
  twinShift?: number;
}

/** x_new = clamp(round((x_old·s_old + acc·S_acc[t, c]) / s_new)), one rounding: a dyadic pair per (t, c). */
export interface ResidualAdd {
  stream: DyadicTable;
  branch: DyadicTable;
  tokens: number;
  lo: number;
  hi: number;
}

export type SoftmaxKernel = { set: 'ivit'; c: SoftmaxConstants } | { set: 'ibert'; c: IBertSoftmaxConstants };
export type GeluKernel = { set: 'ivit'; c: GeluConstants } | { set: 'ibert'; c: IGeluConstants };

/** A block with Q·Kᵀ attention. */
export interface StandardBlock extends BlockTail {
  kind: 'standard';
  norm1: QuantizerUnit;
  qkv: LinearStage;
  q: QuantizerUnit;
  k: QuantizerUnit;
  v: QuantizerUnit;
  softmax: SoftmaxKernel;
}

/** A block with OFQ's query–key reparameterisation: scores X̂·U_hᵀ, no Q or K. */
export interface QkrBlock extends BlockTail {
  kind: 'qkr';
  /** I-LayerNorm → X unit (attn.v.input = attn.qkr.input = qk.a): X codes [m, C], also the scores' A operand. */
  norm1: QuantizerUnit;
  attnV: LinearStage;
  /** [m, H·C] accumulator: columns h·C…(h+1)·C are head h's U_hᵀ. */
  qkr: LinearStage;
  /** attn.v accumulator → V codes (pv.b). */
  v: QuantizerUnit;
  /** attn.qkr accumulator → U codes (qk.b), H·C channels. */
  u: QuantizerUnit;
  /**
   * [T] softmax constants of each score row: row t's scale is s_X[t]·s_U·d^−½, so per-token X steps
   * need one set per distinct step (entries are shared when the steps are equal).
   */
  softmax: SoftmaxKernel[];
}

export type BlockProgram = StandardBlock | QkrBlock;

/** What every block shares after its scores: P, P·V, proj, the MLP and both residual adds. */
export interface BlockTail {
  p: QuantizerUnit;
  pvShift?: number;
  projInput: QuantizerUnit;
  proj: LinearStage;
  residual1: ResidualAdd;
  norm2: QuantizerUnit;
  fc1: LinearStage;
  /** fc1 accumulator → 16-bit GELU input at geluScale. */
  geluInput: DyadicTable;
  geluTokens: number;
  geluScale: number;
  gelu: GeluKernel;
  /**
   * The kernel's output for every 16-bit input, [2^16] indexed by input + 2^15: the GELU unit is a
   * pure function of a 16-bit code, so the engine looks its results up (same bits, computed once).
   */
  geluTable: Float64Array;
  fc2: LinearStage;
  residual2: ResidualAdd;
}

export interface IntegerProgram {
  config: ViTConfig;
  tokens: number;
  patches: number;
  dim: number;
  heads: number;
  headDim: number;
  hidden: number;
  accumulator: Accumulator;
  nonlinear: NonlinearSet;
  /** patch_embed's input: pixel code = clamp(round(pixel / scale) + zeroPoint). */
  pixel: { scale: number; zeroPoint: number; lo: number; hi: number };
  patchEmbed: LinearStage;
  /** patch_embed accumulator → residual[0] codes, per channel. */
  embedResidual: DyadicTable;
  /** residual[0] codes of the class token row (cls_token + pos_embed[0]). */
  clsRow: Int32Array;
  blocks: BlockProgram[];
  /** The final norm's unit into head.input (class tokens only). */
  norm: QuantizerUnit;
  head: LinearStage;
  /** Static weight operands' statistics, by op name. */
  weightStats: Map<string, { zeroFraction: number; meanAbs: number }>;
}

/** Width of the GELU input the fc1 accumulator is requantized to (signed). */
export const GELU_INPUT_BITS = 16;

export function compileProgram(q: QuantizedViT, options: CompileOptions = {}): IntegerProgram {
  const config = q.config;
  const accBits = options.accBits ?? DEFAULT_ACC_BITS;
  if (!Number.isInteger(accBits) || accBits < 2 || accBits > MAX_ACC_BITS) throw new RangeError(`accBits must be an integer in 2…${MAX_ACC_BITS}, got ${accBits}`);
  const nonlinear = options.nonlinear ?? 'ivit';
  const t = numTokens(config);
  const np = numPatches(config);
  const d = config.embedDim;
  const hd = headDim(config);
  const hidden = mlpHidden(config);
  const fp = (name: string): Float32Array => floatParam(q, name);
  const linear = (name: string): QuantLinear => linearOp(q, name);
  const matmul = (name: string): QuantMatmul => matmulOp(q, name);
  const weightStats = new Map<string, { zeroFraction: number; meanAbs: number }>();

  // patch_embed: the input quantizer is the pixel code itself.
  const pe = linear('patch_embed.proj');
  if (pe.input.kind !== 'uniform' || pe.input.scale.length !== 1 || pe.input.addend) throw new Error('patch_embed.proj.input must be a per-tensor uniform quantizer without addend');
  const pixelQ = pe.input;
  const pixelRange = codeRange(pixelQ);
  const r0 = q.residual[0];
  const pos = fp('pos_embed');
  const cls = fp('cls_token');
  const peWeight = weightOperand(pe.weight, 'patch_embed.proj', weightStats);
  const peStep = pixelQ.scale[0];
  const peAcc = accScales(1, d, () => peStep, pe.weight);
  // Bias and the position embedding of each patch token in one accumulator-domain constant.
  const peBias = new Float64Array(np * d);
  for (let p = 0; p < np; p++) {
    for (let o = 0; o < d; o++) {
      const real = pe.bias[o] + pos[(p + 1) * d + o];
      peBias[p * d + o] = Math.floor(real / peAcc[o] - pixelQ.zeroPoint * peWeight.rowSums[o] + 0.5);
    }
  }
  const patchEmbed: LinearStage = {
    name: 'patch_embed.proj', ins: pe.weight.shape[1], outs: d, input: unitFor(pe.input, () => peStep, 1, pe.weight.shape[1], 'linear', 'patch_embed.proj.input').unit,
    weight: peWeight.operands, bias: peBias, biasRows: np, accScale: peAcc, scaleRows: 1,
  };
  const embedResidual = dyadicTable(Array.from(peAcc, (s) => dyadic(s / r0.scale[0])));
  const clsRow = new Int32Array(d);
  for (let o = 0; o < d; o++) clsRow[o] = clampTo(Math.floor((cls[o] + pos[o]) / r0.scale[0] + 0.5), -(2 ** 15), 2 ** 15 - 1);

  const blocks: BlockProgram[] = [];
  const scoreKernel = (scale: number): SoftmaxKernel => (nonlinear === 'ivit' ? { set: 'ivit', c: shiftmaxConstants(scale, t) } : { set: 'ibert', c: iSoftmaxConstants(scale, t) });
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}.`;
    const pv = matmul(b + 'attn.pv');
    const projOp = linear(b + 'attn.proj');
    const fc1Op = linear(b + 'mlp.fc1');
    const fc2Op = linear(b + 'mlp.fc2');
    const resIn = q.residual[2 * i];
    const resMid = q.residual[2 * i + 1];
    const resOut = q.residual[2 * i + 2];

    const attention = attentionOf(q) === 'qkr'
      ? qkrAttention(q, b, { tokens: t, headDim: hd, weightStats, scoreKernel })
      : standardAttention(q, b, { tokens: t, headDim: hd, weightStats, scoreKernel });
    const pUnit = compileUnit(pv.a, () => 2 ** -OUT_FRACTION_BITS, { channels: t, inTokens: 1, role: 'matmul' }, b + 'attn.pv.a');
    const pvStep = pUnit.meaning.step[0] * attention.vStep;
    const projIn = compileUnit(projOp.input, () => pvStep, { channels: d, inTokens: 1, role: 'linear' }, b + 'attn.proj.input');
    const proj = linearStage(projOp, projIn.meaning, projIn.unit, t, weightStats);
    const residual1 = residualAdd(resIn, resMid, proj);

    const norm2 = layerNormUnit(fc1Op.input, fp(b + 'norm2.weight'), fp(b + 'norm2.bias'), d, b + 'mlp.fc1.input');
    const fc1 = linearStage(fc1Op, norm2.meaning, norm2.unit, t, weightStats);
    const geluScale = geluInputScale(fc2Op.input);
    const geluInput = dyadicTable(Array.from(fc1.accScale, (s) => dyadic(s / geluScale)));
    const gelu: GeluKernel = nonlinear === 'ivit' ? { set: 'ivit', c: shiftGeluConstants(geluScale) } : { set: 'ibert', c: iGeluConstants(geluScale) };
    const geluTable = Float64Array.from({ length: 2 ** GELU_INPUT_BITS }, (_, j) => {
      const q = j - 2 ** (GELU_INPUT_BITS - 1);
      return gelu.set === 'ivit' ? shiftGelu(q, gelu.c) : iGelu(q, gelu.c);
    });
    const geluOutScale = gelu.set === 'ivit' ? geluScale * 2 ** -OUT_FRACTION_BITS : geluScale * gelu.c.outScale;
    const fc2In = compileUnit(fc2Op.input, () => geluOutScale, { channels: hidden, inTokens: 1, role: 'linear' }, b + 'mlp.fc2.input');
    const fc2 = linearStage(fc2Op, fc2In.meaning, fc2In.unit, t, weightStats);
    const residual2 = residualAdd(resMid, resOut, fc2);

    blocks.push({
      ...attention.block, p: pUnit.unit,
      ...(pUnit.meaning.twinShift === undefined ? {} : { pvShift: pUnit.meaning.twinShift }),
      projInput: projIn.unit, proj, residual1, norm2: norm2.unit, fc1, geluInput, geluTokens: fc1.scaleRows, geluScale, gelu, geluTable, fc2, residual2,
    });
  }

  const headOp = linear('head');
  // The head sees class tokens only: a per-token scale applies its token-0 entry.
  const norm = layerNormUnit(headOp.input, fp('norm.weight'), fp('norm.bias'), d, 'head.input');
  const head = linearStage(headOp, norm.meaning, norm.unit, 1, weightStats);

  return {
    config, tokens: t, patches: np, dim: d, heads: config.numHeads, headDim: hd, hidden,
    accumulator: { bits: accBits, overflow: options.overflow ?? 'saturate' },
    nonlinear,
    pixel: { scale: peStep, zeroPoint: pixelQ.zeroPoint, lo: pixelRange.lo, hi: pixelRange.hi },
    patchEmbed, embedResidual, clsRow, blocks, norm: norm.unit, head, weightStats,
  };
}

/** What the attention stages of a block need from the whole program. */
interface AttentionContext {
  tokens: number;
  headDim: number;
  weightStats: IntegerProgram['weightStats'];
  /** The softmax constants for scores at this real scale. */
  scoreKernel(scale: number): SoftmaxKernel;
}

/** A block's stages up to its softmax, and the real step of its V operand. */
interface AttentionStages<B> {
  block: B;
  vStep: number;
}

/** LN1 → qkv → Q, K, V units (per-channel dyadics from qkv's per-channel accumulator scales) → softmax at s_Q·s_K·d^−½. */
function standardAttention(q: QuantizedViT, b: string, ctx: AttentionContext): AttentionStages<Omit<StandardBlock, keyof BlockTail>> {
  const d = q.config.embedDim;
  const qkvOp = linearOp(q, b + 'attn.qkv');
  const qk = matmulOp(q, b + 'attn.qk');
  const pv = matmulOp(q, b + 'attn.pv');
  const norm1 = layerNormUnit(qkvOp.input, floatParam(q, b + 'norm1.weight'), floatParam(q, b + 'norm1.bias'), d, b + 'attn.qkv.input');
  const qkv = linearStage(qkvOp, norm1.meaning, norm1.unit, ctx.tokens, ctx.weightStats);
  const qkvScale = (tok: number, c: number): number => qkv.accScale[(tok % qkv.scaleRows) * qkv.outs + c];
  const shape = { channels: d, inTokens: qkv.scaleRows, role: 'matmul' } as const;
  const qUnit = compileUnit(qk.a, (tok, c) => qkvScale(tok, c), shape, b + 'attn.qk.a');
  const kUnit = compileUnit(qk.b, (tok, c) => qkvScale(tok, d + c), shape, b + 'attn.qk.b');
  const vUnit = compileUnit(pv.b, (tok, c) => qkvScale(tok, 2 * d + c), shape, b + 'attn.pv.b');
  const softmax = ctx.scoreKernel((qUnit.meaning.step[0] * kUnit.meaning.step[0]) / Math.sqrt(ctx.headDim));
  return {
    block: { kind: 'standard', norm1: norm1.unit, qkv, q: qUnit.unit, k: kUnit.unit, v: vUnit.unit, softmax },
    vStep: vUnit.meaning.step[0],
  };
}

/**
 * LN1 → X unit → attn.v → V unit, and attn.qkr → U unit; the X codes are the scores' A operand as
 * they are (a zero point there would need a run-time correction, so it must be 0), and OFQ's
 * uniform quantizers are the only kinds modelled on X̂ and U.
 */
function qkrAttention(q: QuantizedViT, b: string, ctx: AttentionContext): AttentionStages<Omit<QkrBlock, keyof BlockTail>> {
  const d = q.config.embedDim;
  const heads = q.config.numHeads;
  const vOp = linearOp(q, b + 'attn.v');
  const qkrOp = linearOp(q, b + 'attn.qkr');
  const qk = matmulOp(q, b + 'attn.qk');
  const pv = matmulOp(q, b + 'attn.pv');
  const x = vOp.input;
  if (x.kind !== 'uniform' || x.zeroPoint !== 0) {
    throw new Error(`${b}attn.v.input: QKR's X̂ must be a uniform quantizer with zero point 0 for the integer engine, got ${x.kind === 'uniform' ? `zero point ${x.zeroPoint}` : x.kind}`);
  }
  const u = qk.b;
  if (u.kind !== 'uniform' || u.scale.length !== 1 || u.zeroPoint !== 0) {
    throw new Error(`${b}attn.qk.b: QKR's U must be a per-tensor uniform quantizer with zero point 0 for the integer engine, got ${u.kind}`);
  }
  const norm1 = layerNormUnit(x, floatParam(q, b + 'norm1.weight'), floatParam(q, b + 'norm1.bias'), d, b + 'attn.v.input');
  const attnV = linearStage(vOp, norm1.meaning, norm1.unit, ctx.tokens, ctx.weightStats);
  const qkr = linearStage(qkrOp, norm1.meaning, norm1.unit, ctx.tokens, ctx.weightStats);
  const vUnit = compileUnit(pv.b, (tok, c) => attnV.accScale[(tok % attnV.scaleRows) * d + c], { channels: d, inTokens: attnV.scaleRows, role: 'matmul' }, b + 'attn.pv.b');
  const uUnit = compileUnit(u, (tok, c) => qkr.accScale[(tok % qkr.scaleRows) * heads * d + c], { channels: heads * d, inTokens: qkr.scaleRows, role: 'matmul' }, b + 'attn.qk.b');
  const xStep = norm1.meaning.step;
  const uStep = uUnit.meaning.step[0];
  const kernels = new Map<number, SoftmaxKernel>();
  const softmax = Array.from({ length: ctx.tokens }, (_, tok) => {
    const scale = (xStep[xStep.length === 1 ? 0 : tok] * uStep) / Math.sqrt(ctx.headDim);
    let kernel = kernels.get(scale);
    if (!kernel) {
      kernel = ctx.scoreKernel(scale);
      kernels.set(scale, kernel);
    }
    return kernel;
  });
  return {
    block: { kind: 'qkr', norm1: norm1.unit, attnV, qkr, v: vUnit.unit, u: uUnit.unit, softmax },
    vStep: vUnit.meaning.step[0],
  };
}

function linearOp(q: QuantizedViT, name: string): QuantLinear {
  return q.ops.get(name) as QuantLinear;
}

function matmulOp(q: QuantizedViT, name: string): QuantMatmul {
  return q.ops.get(name) as QuantMatmul;
}

function floatParam(q: QuantizedViT, name: string): Float32Array {
  const p = q.floatParams.get(name) as Tensor | undefined;
  if (!p) throw new Error(`compileProgram: float parameter ${name} is missing`);
  return p.data;
}

/**
 * The LayerNorm → quantizer unit: I-LayerNorm's ŷ has real value ŷ·γ_c·√C/2^30 before β, so the
 * unit's input scale is per channel and β (with any noise) is its pre-quant adder. A γ_c of exactly 0
 * would make that scale 0; it is held at ±2^−20 (no trained LayerNorm has one smaller).
 */
function layerNormUnit(
  q: ActQuant, gamma: Float32Array, beta: Float32Array, d: number, where: string,
): { unit: QuantizerUnit; meaning: OperandMeaning } {
  const step = layerNormStep(d);
  const scale = Float64Array.from(gamma, (g) => (Math.abs(g) < 2 ** -20 ? (g < 0 ? -1 : 1) * 2 ** -20 : g) * step);
  return compileUnit(q, (_t, c) => scale[c], { channels: d, inTokens: 1, role: 'linear', extra: Float64Array.from(beta) }, where);
}

function unitFor(q: ActQuant, scale: () => number, tokens: number, channels: number, role: 'linear' | 'matmul', where: string): { unit: QuantizerUnit; meaning: OperandMeaning } {
  return compileUnit(q, scale, { channels, inTokens: tokens, role }, where);
}

/** A linear layer whose input unit has the given meaning; `tokens` is the row period. */
function linearStage(op: QuantLinear, meaning: OperandMeaning, unit: QuantizerUnit, tokens: number, stats: IntegerProgram['weightStats']): LinearStage {
  const [outs, ins] = op.weight.shape;
  const w = weightOperand(op.weight, op.name, stats);
  const rows = meaning.step.length > 1 ? Math.min(tokens, meaning.step.length) : 1;
  const accScale = accScales(rows, outs, (t) => meaning.step[t], op.weight);
  const bias = new Float64Array(rows * outs);
  for (let t = 0; t < rows; t++) {
    for (let o = 0; o < outs; o++) {
      bias[t * outs + o] = Math.floor(op.bias[o] / accScale[t * outs + o] - meaning.zeroPoint * w.rowSums[o] + 0.5);
    }
  }
  return {
    name: op.name, ins, outs, input: unit, weight: w.operands, bias, biasRows: rows, accScale, scaleRows: rows,
    ...(meaning.twinShift === undefined ? {} : { twinShift: meaning.twinShift }),
  };
}

/** Weight operands (codes − zero point) as Int16, their row sums, and their statistics. */
function weightOperand(w: WeightQuant, name: string, stats: IntegerProgram['weightStats']): { operands: Int16Array; rowSums: Float64Array } {
  const [outs, ins] = w.shape;
  const operands = new Int16Array(outs * ins);
  const rowSums = new Float64Array(outs);
  let zeros = 0;
  let sumAbs = 0;
  for (let o = 0; o < outs; o++) {
    const zp = w.zeroPoints ? (w.zeroPoints.length === 1 ? w.zeroPoints[0] : w.zeroPoints[o]) : 0;
    for (let i = 0; i < ins; i++) {
      const v = w.codes[o * ins + i] - zp;
      if (v < -32768 || v > 32767) throw new Error(`${name}.weight: operand ${v} does not fit 16 bits`);
      operands[o * ins + i] = v;
      rowSums[o] += v;
      if (v === 0) zeros++;
      else sumAbs += Math.abs(v);
    }
  }
  stats.set(name, { zeroFraction: zeros / (outs * ins), meanAbs: sumAbs / (outs * ins) });
  return { operands, rowSums };
}

/** [rows × outs] real accumulator step = input step[t] · weight scale[o]. */
function accScales(rows: number, outs: number, inStep: (t: number) => number, w: WeightQuant): Float64Array {
  const out = new Float64Array(rows * outs);
  for (let t = 0; t < rows; t++) {
    for (let o = 0; o < outs; o++) out[t * outs + o] = inStep(t) * (w.scales.length === 1 ? w.scales[0] : w.scales[o]);
  }
  return out;
}

function residualAdd(from: UniformQuant, to: UniformQuant, branch: LinearStage): ResidualAdd {
  const sOld = from.scale[0];
  const sNew = to.scale[0];
  const streams = [];
  const branches = [];
  for (let i = 0; i < branch.accScale.length; i++) {
    const [s, b] = dyadicCommon([sOld / sNew, branch.accScale[i] / sNew]);
    streams.push(s);
    branches.push(b);
  }
  return { stream: dyadicTable(streams), branch: dyadicTable(branches), tokens: branch.scaleRows, lo: -(2 ** (to.bits - 1)), hi: 2 ** (to.bits - 1) - 1 };
}

/**
 * The GELU input scale: 16-bit signed over ±X, X one unit above the largest value fc2's input
 * quantizer can represent (and at least 4): every larger input saturates that quantizer anyway, and
 * GELU(x < −4) rounds to zero at any 16-bit-or-coarser output step.
 */
function geluInputScale(q: ActQuant): number {
  let top: number;
  switch (q.kind) {
    case 'uniform':
      top = Math.max(...Array.from(q.scale, (s) => s * (codeRange(q).hi - q.zeroPoint)));
      break;
    case 'twin-gelu':
      top = q.negScale * 2 ** q.posShift * (2 ** (q.bits - 1) - 1);
      break;
    case 'threshold':
      top = Math.max(Math.abs(q.thresholds[0]), Math.abs(q.thresholds[q.thresholds.length - 1])) + q.step;
      break;
    case 'twin-softmax':
      top = 1;
      break;
  }
  const addend = q.kind === 'twin-softmax' ? undefined : q.addend;
  const shift = addend ? Math.max(...Array.from(addend.preAdd, Math.abs)) : 0;
  return Math.max(top + shift + 1, 4) / (2 ** (GELU_INPUT_BITS - 1) - 1);
}

function codeRange(q: UniformQuant): { lo: number; hi: number } {
  return q.signed ? { lo: -(2 ** (q.bits - 1)), hi: 2 ** (q.bits - 1) - 1 } : { lo: 0, hi: 2 ** q.bits - 1 };
}

function clampTo(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
