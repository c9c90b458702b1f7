/**
 * The ViT that quantization-aware training trains: the float model of src/model/vit.ts with a
 * fake-quantizer on every operand of every matrix product, computing the datapath of spec.ts
 * (raw pixels → u8 → patch_embed with the normalisation folded in; LN1 → qkv.input → qkv → Q̂, K̂, V̂ →
 * Q̂·K̂ᵀ·d^−½ → softmax → P̂ → P̂·V̂ → proj.input → proj …; the class token's final LN → head.input → head),
 * with its forward and backward side by side. The residual stream's 16-bit quantizers are not applied
 * in training (their error is below float32 noise at this width); the assembled model carries them.
 *
 * Which quantizer sits where is the method's choice (methodLayout): LSQ everywhere (plain baseline),
 * OFQ (StatsQ weights, per-token LSQ activations with learned pre/post biases), N2UQ (entropy-preserving
 * weights, learned-threshold activations). Patch embedding and head stay at 8 bits in every method
 * (weights per-channel LSQ, head input per-tensor LSQ), as OFQ and N2UQ keep their first and last layers.
 *
 * With OFQ's query–key reparameterisation (attention 'qkr', qkr.ts) a block computes LN1 → attn.v.input
 * = X̂ → V = X̂·Ŵ_vᵀ and U = X̂·Ŵ_qkᵀ → Û (attn.qk.b) → S_h = X̂·Û_hᵀ·d^−½ instead; X̂'s quantizer keeps its
 * learned pre-bias but has no post-bias (in the dynamic product X̂·Û_hᵀ it would need a column-sum
 * correction, spec.ts), and Û has one step per tensor, as the other attention operands.
 *
 * Parameters: the float ViT's (one flat array in paramShapes order, so AdamW walks it as train.ts does)
 * and each quantizer's own small tensors. `tensorsOf` lists both in one fixed order; a gradient value of
 * the same shape (zeroGrads) lists its tensors in the same order.
 */
import { headDim, LAYER_NORM_EPS, mlpHidden, numPatches, numTokens, type Tensor, type ViTConfig, type ViTParams } from '../../model/config.js';
import { softmaxBackwardRows, softmaxRows } from '../../model/layers/attention.js';
import { geluBackward, geluForward } from '../../model/layers/gelu.js';
import { layerNormBackward, layerNormForward } from '../../model/layers/layer-norm.js';
import { linearBackward, linearForward } from '../../model/layers/linear.js';
import { gemm } from '../../model/layers/matmul.js';
import { addClassAndPosition, im2col } from '../../model/layers/patch-embed.js';
import { flatLayout, flattenParams, paramsFromFlat, type FlatLayout } from '../../model/train.js';
import { attentionScores, gatherHead, scatterHead } from '../heads.js';
import { linearWeightShape, quantOpNames, type AttentionForm } from '../spec.js';
import {
  lsqBackward, lsqForward, lsqWeightBackward, lsqWeightForward, n2uqWeightBackward, statsqForward, thresholdBackward, thresholdForward,
  type LsqAct, type LsqActGrad, type ThresholdAct, type ThresholdActGrad,
} from './fake-quantizers.js';
import { qkrScoresBackward, qkrWeight, qkrWeightBackward, type QkrShape } from './qkr.js';

export type QatMethod = 'lsq' | 'n2uq' | 'ofq';

export const QAT_METHODS: readonly QatMethod[] = ['lsq', 'n2uq', 'ofq'];

/** Bits of the patch embedding and the head (weights and the head's input) in every method. */
export const EDGE_BITS = 8;

export type WeightScheme = 'lsq' | 'statsq' | 'n2uq';

export interface QatWeight {
  scheme: WeightScheme;
  bits: number;
  /** [out] learned steps (LSQ only). */
  step?: Float32Array;
}

export type QatAct = LsqAct | ThresholdAct;

export interface QatModel {
  config: ViTConfig;
  method: QatMethod;
  /** 'qkr': OFQ's query–key reparameterisation in every block. */
  attention: AttentionForm;
  wbits: number;
  abits: number;
  layout: FlatLayout;
  /** Float parameters, patch_embed already folded with the normalisation (it takes raw pixels). */
  flat: Float32Array;
  params: ViTParams;
  /** By op name (quantOpNames minus the attention products). */
  weights: Map<string, QatWeight>;
  /** By operand name: `<op>.input` of a linear, `<op>.a` / `<op>.b` of qk and pv. */
  acts: Map<string, QatAct>;
}

/** Gradients with the model's shapes. */
export interface QatGrads {
  flat: Float32Array;
  params: ViTParams;
  weightSteps: Map<string, Float32Array>;
  acts: Map<string, LsqActGrad | ThresholdActGrad>;
}

/** Linear ops of a config in forward order. */
export function linearOpNames(config: ViTConfig, attention: AttentionForm = 'standard'): string[] {
  return quantOpNames(config, attention).filter((name) => !name.endsWith('.qk') && !name.endsWith('.pv'));
}

/**
 * Activation operands that carry a trained quantizer, in forward order (patch_embed's u8 input is
 * fixed). In a QKR block X̂ = attn.v.input is also attn.qkr's input and qk's `a`, and qk.b is Û.
 */
export function actOperandNames(config: ViTConfig, attention: AttentionForm = 'standard'): string[] {
  const names: string[] = [];
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}.`;
    if (attention === 'qkr') names.push(`${b}attn.v.input`, `${b}attn.qk.b`);
    else names.push(`${b}attn.qkv.input`, `${b}attn.qk.a`, `${b}attn.qk.b`);
    names.push(`${b}attn.pv.a`, `${b}attn.pv.b`, `${b}attn.proj.input`, `${b}mlp.fc1.input`, `${b}mlp.fc2.input`);
  }
  names.push('head.input');
  return names;
}

/** The quantizer of a linear op's input: QKR's attn.qkr reads the X̂ of attn.v. */
export function inputOperandName(op: string): string {
  return op.endsWith('.attn.qkr') ? `${op.slice(0, -'qkr'.length)}v.input` : `${op}.input`;
}

/** Signed operands are everything but the softmax output and the GELU output. */
export function operandIsSigned(name: string): boolean {
  return !(name.endsWith('attn.pv.a') || name.endsWith('mlp.fc2.input'));
}

/**
 * A QAT model from float parameters: patch_embed folded, quantizers laid out for the method with
 * placeholder values (initQuantizers sets them from data).
 */
export function createQatModel(
  config: ViTConfig, floatParams: ViTParams, method: QatMethod, wbits: number, abits: number, attention: AttentionForm = 'standard',
): QatModel {
  if (attention === 'qkr' && method !== 'ofq') throw new RangeError(`query–key reparameterisation belongs to ofq, not ${method}`);
  const layout = flatLayout(config);
  const flat = flattenParams(layout, floatParams);
  const params = paramsFromFlat(layout, flat);
  foldNormalisation(config, params);
  const weights = new Map<string, QatWeight>();
  for (const op of linearOpNames(config, attention)) {
    const rows = linearWeightShape(config, op)[0];
    const edge = op === 'patch_embed.proj' || op === 'head';
    const scheme: WeightScheme = edge || method === 'lsq' ? 'lsq' : method === 'ofq' ? 'statsq' : 'n2uq';
    const bits = edge ? EDGE_BITS : wbits;
    weights.set(op, scheme === 'lsq' ? { scheme, bits, step: new Float32Array(rows).fill(1) } : { scheme, bits });
  }
  const t = numTokens(config);
  const acts = new Map<string, QatAct>();
  for (const name of actOperandNames(config, attention)) {
    const signed = operandIsSigned(name);
    const cols = operandChannels(config, name);
    if (name === 'head.input') {
      acts.set(name, { kind: 'lsq', bits: EDGE_BITS, signed: true, step: new Float32Array(1).fill(1) });
    } else if (method === 'n2uq') {
      const levels = 2 ** abits - 1;
      acts.set(name, {
        kind: 'threshold', bits: abits, start: new Float32Array(1), intervals: new Float32Array(levels).fill(1),
        step: new Float32Array(1).fill(1), offset: new Float32Array(1), minInterval: 1e-3,
        ...(name.endsWith('.input') ? {} : { zeroPoint: signed ? 2 ** (abits - 1) : 0 }),
      });
    } else if (method === 'ofq') {
      // Per-token steps on linear inputs; the attention products' operands keep one step per
      // tensor, since the integer engine (src/integer) models per-token scales on linear inputs only
      // (and V's token index runs along P·V's reduction, where no rescale after accumulation can help).
      const linearInput = name.endsWith('.input');
      const perToken = linearInput ? t : 1;
      const postBias = linearInput && !name.endsWith('.attn.v.input');
      acts.set(name, {
        kind: 'lsq', bits: abits, signed, step: new Float32Array(perToken).fill(1),
        ...(linearInput ? { preBias: new Float32Array(cols) } : {}),
        ...(postBias ? { postBias: new Float32Array(cols) } : {}),
      });
    } else {
      acts.set(name, { kind: 'lsq', bits: abits, signed, step: new Float32Array(1).fill(1) });
    }
  }
  return { config, method, attention, wbits, abits, layout, flat, params, weights, acts };
}

/**
 * Channels of a linear input's per-channel biases (OFQ's pre/post biases). Not for the attention
 * operands, whose widths depend on the attention form (QKR's Û has H·C columns).
 */
function operandChannels(config: ViTConfig, name: string): number {
  if (name.endsWith('attn.pv.a')) return numTokens(config);
  if (name.endsWith('mlp.fc2.input')) return mlpHidden(config);
  return config.embedDim;
}

/**
 * (x − mean)/std folded into patch_embed: W' = W/std_c, b' = b − Σ W·mean_c/std_c, so the layer
 * takes raw pixels in [0, 1] (spec.ts, datapath step 1).
 */
export function foldNormalisation(config: ViTConfig, params: ViTParams): void {
  const w = (params.get('patch_embed.proj.weight') as Tensor).data;
  const b = (params.get('patch_embed.proj.bias') as Tensor).data;
  const plane = config.patchSize * config.patchSize;
  const fanIn = config.inChans * plane;
  for (let o = 0; o < config.embedDim; o++) {
    let shift = 0;
    for (let c = 0; c < config.inChans; c++) {
      for (let k = 0; k < plane; k++) {
        const i = o * fanIn + c * plane + k;
        shift += (w[i] * config.mean[c]) / config.std[c];
        w[i] /= config.std[c];
      }
    }
    b[o] -= shift;
  }
}

/** Zero gradients shaped like the model. */
export function zeroGrads(model: QatModel): QatGrads {
  const flat = new Float32Array(model.layout.size);
  const weightSteps = new Map<string, Float32Array>();
  for (const [op, w] of model.weights) if (w.step) weightSteps.set(op, new Float32Array(w.step.length));
  const acts = new Map<string, LsqActGrad | ThresholdActGrad>();
  for (const [name, q] of model.acts) {
    if (q.kind === 'lsq') {
      acts.set(name, {
        step: new Float32Array(q.step.length),
        ...(q.preBias ? { preBias: new Float32Array(q.preBias.length) } : {}),
        ...(q.postBias ? { postBias: new Float32Array(q.postBias.length) } : {}),
      });
    } else {
      acts.set(name, { start: new Float32Array(1), intervals: new Float32Array(q.intervals.length), step: new Float32Array(1), offset: new Float32Array(1) });
    }
  }
  return { flat, params: paramsFromFlat(model.layout, flat), weightSteps, acts };
}

/** Quantizer tensors in a fixed order (after the flat float parameters), for the optimiser. */
export function quantizerTensors(model: QatModel): Float32Array[] {
  const out: Float32Array[] = [];
  for (const w of model.weights.values()) if (w.step) out.push(w.step);
  for (const q of model.acts.values()) {
    if (q.kind === 'lsq') {
      out.push(q.step);
      if (q.preBias) out.push(q.preBias);
      if (q.postBias) out.push(q.postBias);
    } else {
      out.push(q.start, q.intervals, q.step, q.offset);
    }
  }
  return out;
}

/** The gradients of quantizerTensors, in the same order. */
export function quantizerGradTensors(model: QatModel, grads: QatGrads): Float32Array[] {
  const out: Float32Array[] = [];
  for (const op of model.weights.keys()) {
    const g = grads.weightSteps.get(op);
    if (g) out.push(g);
  }
  for (const [name, q] of model.acts) {
    const g = grads.acts.get(name) as LsqActGrad & ThresholdActGrad;
    if (q.kind === 'lsq') {
      out.push(g.step);
      if (q.preBias) out.push(g.preBias as Float32Array);
      if (q.postBias) out.push(g.postBias as Float32Array);
    } else {
      out.push(g.start, g.intervals, g.step, g.offset);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Forward and backward

/** 'float' passes every operand through unquantized (quantizer initialisation, tests against vitForward). */
export type QatMode = 'quant' | 'float';

/** Sees every quantizer input in float mode: x [rows, cols], rowsPerImage rows per image. */
export type OperandObserver = (name: string, x: Float32Array, rows: number, cols: number, rowsPerImage: number) => void;

/** What a block's scores were made of: Q̂ and K̂, or (QKR) n1q = X̂ and Û. */
type ScoreOperands =
  | { kind: 'standard'; q: Float32Array; k: Float32Array; qq: Float32Array; kq: Float32Array }
  | { kind: 'qkr'; u: Float32Array; uq: Float32Array };

interface BlockRecord {
  input: Float32Array;
  n1: Float32Array; n1Mean: Float32Array; n1Rstd: Float32Array; n1q: Float32Array;
  scores: ScoreOperands;
  v: Float32Array; vq: Float32Array;
  probs: Float32Array; pq: Float32Array;
  o: Float32Array; oq: Float32Array;
  afterAttn: Float32Array;
  n2: Float32Array; n2Mean: Float32Array; n2Rstd: Float32Array; n2q: Float32Array;
  h: Float32Array; g: Float32Array; gq: Float32Array;
}

export interface QatActivations {
  batch: number;
  mode: QatMode;
  /** Quantized weights Ŵ of every linear op (float W in float mode). */
  weights: Map<string, Float32Array>;
  patches: Float32Array;
  blocks: BlockRecord[];
  output: Float32Array;
  clsRows: Float32Array; normMean: Float32Array; normRstd: Float32Array; clsNormed: Float32Array; clsQ: Float32Array;
}

/** The sizes the forward and the backward both index by (m = batch · tokens rows). */
function shapeOf(config: ViTConfig, batch: number) {
  const t = numTokens(config);
  const qkr: QkrShape = { c: config.embedDim, heads: config.numHeads, d: headDim(config) };
  return {
    d: config.embedDim, np: numPatches(config), t, m: batch * t, hidden: mlpHidden(config),
    heads: config.numHeads, hd: headDim(config), fanIn: config.inChans * config.patchSize ** 2, qkr,
  };
}

/** Raw pixels [B, C, H, W] in [0, 1] → logits [B, classes] and what the backward needs. */
export function qatForward(
  model: QatModel, pixels: Float32Array, batch: number, mode: QatMode = 'quant', observe?: OperandObserver,
): { logits: Float32Array; activations: QatActivations } {
  const { config } = model;
  const { d, np, t, m, hidden, heads, hd, fanIn, qkr } = shapeOf(config, batch);
  const p = (name: string): Float32Array => (model.params.get(name) as Tensor).data;
  const weights = new Map<string, Float32Array>();
  for (const op of linearOpNames(config, model.attention)) weights.set(op, mode === 'float' ? floatWeight(model, op) : quantizeWeight(model, op));
  const act = (name: string, x: Float32Array, rows: number, cols: number, rowsPerImage: number): Float32Array => {
    if (mode === 'float') {
      observe?.(name, x, rows, cols, rowsPerImage);
      return x;
    }
    const out = new Float32Array(rows * cols);
    const q = model.acts.get(name) as QatAct;
    if (q.kind === 'lsq') lsqForward(q, x, out, rows, cols);
    else thresholdForward(q, x, out, rows * cols);
    return out;
  };

  // patch_embed.proj.input: raw pixels on the u8 grid (exact for 8-bit images), im2col, folded linear.
  const u8 = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) u8[i] = Math.min(255, Math.max(0, Math.floor(pixels[i] * 255 + 0.5))) / 255;
  const patches = new Float32Array(batch * np * fanIn);
  im2col(u8, patches, { batch, channels: config.inChans, imgSize: config.imgSize, patchSize: config.patchSize });
  const embedded = new Float32Array(batch * np * d);
  linearForward(patches, weights.get('patch_embed.proj') as Float32Array, p('patch_embed.proj.bias'), embedded, batch * np, fanIn, d);
  let x = new Float32Array(m * d);
  addClassAndPosition(embedded, p('cls_token'), p('pos_embed'), x, batch, np, d);

  const blocks: BlockRecord[] = [];
  const scale = 1 / Math.sqrt(hd);
  for (let i = 0; i < config.depth; i++) {
    const pre = `blocks.${i}.`;
    const n1 = new Float32Array(m * d);
    const n1Mean = new Float32Array(m);
    const n1Rstd = new Float32Array(m);
    layerNormForward(x, p(pre + 'norm1.weight'), p(pre + 'norm1.bias'), n1, n1Mean, n1Rstd, m, d, LAYER_NORM_EPS);
    const probs = new Float32Array(batch * heads * t * t);
    let n1q: Float32Array;
    let v: Float32Array;
    let scores: ScoreOperands;
    if (model.attention === 'qkr') {
      // X̂ → V = X̂·Ŵ_vᵀ + b_v and U = X̂·Ŵ_qkᵀ (q/k biases dropped) → Û; S_h = X̂·Û_hᵀ·d^−½.
      n1q = act(pre + 'attn.v.input', n1, m, d, t);
      v = new Float32Array(m * d);
      linearForward(n1q, weights.get(pre + 'attn.v') as Float32Array, linearBias(model, pre + 'attn.v'), v, m, d, d);
      const u = new Float32Array(m * heads * d);
      linearForward(n1q, weights.get(pre + 'attn.qkr') as Float32Array, linearBias(model, pre + 'attn.qkr'), u, m, d, heads * d);
      const uq = act(pre + 'attn.qk.b', u, m, heads * d, t);
      attentionScores(n1q, uq, probs, { batch, tokens: t, heads, k: d, sharedA: true }, scale);
      scores = { kind: 'qkr', u, uq };
    } else {
      n1q = act(pre + 'attn.qkv.input', n1, m, d, t);
      const qkv = new Float32Array(m * 3 * d);
      linearForward(n1q, weights.get(pre + 'attn.qkv') as Float32Array, p(pre + 'attn.qkv.bias'), qkv, m, d, 3 * d);
      let q: Float32Array;
      let k: Float32Array;
      [q, k, v] = splitQkv(qkv, m, d);
      const qq = act(pre + 'attn.qk.a', q, m, d, t);
      const kq = act(pre + 'attn.qk.b', k, m, d, t);
      attentionScores(qq, kq, probs, { batch, tokens: t, heads, k: hd, sharedA: false }, scale);
      scores = { kind: 'standard', q, k, qq, kq };
    }
    const vq = act(pre + 'attn.pv.b', v, m, d, t);
    for (let g = 0; g < batch * heads; g++) softmaxRows(probs.subarray(g * t * t, (g + 1) * t * t), t, t);
    const pq = act(pre + 'attn.pv.a', probs, batch * heads * t, t, heads * t);
    const o = new Float32Array(m * d);
    const vh = new Float32Array(t * hd);
    const oh = new Float32Array(t * hd);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        gatherHead(vq, vh, b, h, t, d, hd);
        gemm(pq.subarray((b * heads + h) * t * t, (b * heads + h + 1) * t * t), vh, oh, { m: t, k: t, n: hd });
        scatterHead(oh, o, b, h, t, d, hd);
      }
    }
    const oq = act(pre + 'attn.proj.input', o, m, d, t);
    const afterAttn = new Float32Array(m * d);
    linearForward(oq, weights.get(pre + 'attn.proj') as Float32Array, p(pre + 'attn.proj.bias'), afterAttn, m, d, d);
    for (let j = 0; j < m * d; j++) afterAttn[j] += x[j];
    const n2 = new Float32Array(m * d);
    const n2Mean = new Float32Array(m);
    const n2Rstd = new Float32Array(m);
    layerNormForward(afterAttn, p(pre + 'norm2.weight'), p(pre + 'norm2.bias'), n2, n2Mean, n2Rstd, m, d, LAYER_NORM_EPS);
    const n2q = act(pre + 'mlp.fc1.input', n2, m, d, t);
    const h1 = new Float32Array(m * hidden);
    linearForward(n2q, weights.get(pre + 'mlp.fc1') as Float32Array, p(pre + 'mlp.fc1.bias'), h1, m, d, hidden);
    const g = new Float32Array(m * hidden);
    geluForward(h1, g, m * hidden);
    const gq = act(pre + 'mlp.fc2.input', g, m, hidden, t);
    const next = new Float32Array(m * d);
    linearForward(gq, weights.get(pre + 'mlp.fc2') as Float32Array, p(pre + 'mlp.fc2.bias'), next, m, hidden, d);
    for (let j = 0; j < m * d; j++) next[j] += afterAttn[j];
    blocks.push({ input: x, n1, n1Mean, n1Rstd, n1q, scores, v, vq, probs, pq, o, oq, afterAttn, n2, n2Mean, n2Rstd, n2q, h: h1, g, gq });
    x = next;
  }

  const clsRows = new Float32Array(batch * d);
  for (let b = 0; b < batch; b++) clsRows.set(x.subarray(b * t * d, b * t * d + d), b * d);
  const normMean = new Float32Array(batch);
  const normRstd = new Float32Array(batch);
  const clsNormed = new Float32Array(batch * d);
  layerNormForward(clsRows, p('norm.weight'), p('norm.bias'), clsNormed, normMean, normRstd, batch, d, LAYER_NORM_EPS);
  const clsQ = act('head.input', clsNormed, batch, d, 1);
  const logits = new Float32Array(batch * config.numClasses);
  linearForward(clsQ, weights.get('head') as Float32Array, p('head.bias'), logits, batch, d, config.numClasses);
  return { logits, activations: { batch, mode, weights, patches, blocks, output: x, clsRows, normMean, normRstd, clsNormed, clsQ } };
}

/** Back-propagates dLogits through the forward that made `a`, adding into grads. */
export function qatBackward(model: QatModel, a: QatActivations, dLogits: Float32Array, grads: QatGrads): void {
  const { config } = model;
  const { batch, mode } = a;
  const { d, np, t, m, hidden, heads, hd, fanIn, qkr } = shapeOf(config, batch);
  const p = (name: string): Float32Array => (model.params.get(name) as Tensor).data;
  const g = (name: string): Float32Array => (grads.params.get(name) as Tensor).data;
  const w = (op: string): Float32Array => a.weights.get(op) as Float32Array;
  // dŴ of one op → the float weight's gradient through the weight quantizer's STE.
  const linearBack = (op: string, x: Float32Array, dy: Float32Array, dx: Float32Array | undefined, rows: number, inF: number, outF: number): void => {
    const dWhat = new Float32Array(inF * outF);
    linearBackward(x, w(op), dy, dx, dWhat, linearBias(model, op, grads), rows, inF, outF);
    weightBackward(model, grads, op, dWhat, mode);
  };
  const actBack = (name: string, x: Float32Array, dOut: Float32Array, rows: number, cols: number, rowsPerImage: number): Float32Array => {
    if (mode === 'float') return dOut;
    const dx = new Float32Array(rows * cols);
    const q = model.acts.get(name) as QatAct;
    const qg = grads.acts.get(name) as LsqActGrad & ThresholdActGrad;
    if (q.kind === 'lsq') lsqBackward(q, qg, x, dOut, dx, rows, cols, rowsPerImage);
    else thresholdBackward(q, qg, x, dOut, dx, rows * cols);
    return dx;
  };

  const dClsQ = new Float32Array(batch * d);
  linearBack('head', a.clsQ, dLogits, dClsQ, batch, d, config.numClasses);
  const dClsNormed = actBack('head.input', a.clsNormed, dClsQ, batch, d, 1);
  const dClsRows = new Float32Array(batch * d);
  layerNormBackward(a.clsRows, p('norm.weight'), a.normMean, a.normRstd, dClsNormed, dClsRows, g('norm.weight'), g('norm.bias'), batch, d);
  const dx = new Float32Array(m * d);
  for (let b = 0; b < batch; b++) dx.set(dClsRows.subarray(b * d, b * d + d), b * t * d);

  const dResidual = new Float32Array(m * d);
  const scale = 1 / Math.sqrt(hd);
  for (let i = config.depth - 1; i >= 0; i--) {
    const pre = `blocks.${i}.`;
    const r = a.blocks[i];
    // MLP branch.
    const dGq = new Float32Array(m * hidden);
    linearBack(pre + 'mlp.fc2', r.gq, dx, dGq, m, hidden, d);
    const dG = actBack(pre + 'mlp.fc2.input', r.g, dGq, m, hidden, t);
    const dH = new Float32Array(m * hidden);
    geluBackward(r.h, dG, dH, m * hidden);
    const dN2q = new Float32Array(m * d);
    linearBack(pre + 'mlp.fc1', r.n2q, dH, dN2q, m, d, hidden);
    const dN2 = actBack(pre + 'mlp.fc1.input', r.n2, dN2q, m, d, t);
    layerNormBackward(r.afterAttn, p(pre + 'norm2.weight'), r.n2Mean, r.n2Rstd, dN2, dResidual, g(pre + 'norm2.weight'), g(pre + 'norm2.bias'), m, d);
    for (let j = 0; j < m * d; j++) dx[j] += dResidual[j];
    // Attention branch.
    const dOq = new Float32Array(m * d);
    linearBack(pre + 'attn.proj', r.oq, dx, dOq, m, d, d);
    const dO = actBack(pre + 'attn.proj.input', r.o, dOq, m, d, t);
    const dPq = new Float32Array(batch * heads * t * t);
    const dVq = new Float32Array(m * d);
    const doh = new Float32Array(t * hd);
    const vh = new Float32Array(t * hd);
    const dvh = new Float32Array(t * hd);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        const at = (b * heads + h) * t * t;
        gatherHead(dO, doh, b, h, t, d, hd);
        gatherHead(r.vq, vh, b, h, t, d, hd);
        gemm(doh, vh, dPq.subarray(at, at + t * t), { m: t, k: hd, n: t, transB: true });
        gemm(r.pq.subarray(at, at + t * t), doh, dvh, { m: t, k: t, n: hd, transA: true });
        scatterHead(dvh, dVq, b, h, t, d, hd);
      }
    }
    // dS = softmax'(dP)·d^−½ in place, per (image, head).
    const dS = actBack(pre + 'attn.pv.a', r.probs, dPq, batch * heads * t, t, heads * t);
    for (let at = 0; at < dS.length; at += t * t) {
      softmaxBackwardRows(r.probs.subarray(at, at + t * t), dS.subarray(at, at + t * t), t, t);
      for (let j = at; j < at + t * t; j++) dS[j] *= scale;
    }
    const dV = actBack(pre + 'attn.pv.b', r.v, dVq, m, d, t);
    const dN1q = new Float32Array(m * d);
    let inputName: string;
    if (r.scores.kind === 'qkr') {
      // dX̂ gathers three paths: the scores (every head), U = X̂·Ŵ_qkᵀ and V = X̂·Ŵ_vᵀ.
      const dUq = new Float32Array(m * heads * d);
      qkrScoresBackward(dS, r.n1q, r.scores.uq, dN1q, dUq, batch, t, qkr);
      const dU = actBack(pre + 'attn.qk.b', r.scores.u, dUq, m, heads * d, t);
      const dFromPath = new Float32Array(m * d);
      linearBack(pre + 'attn.qkr', r.n1q, dU, dFromPath, m, d, heads * d);
      for (let j = 0; j < m * d; j++) dN1q[j] += dFromPath[j];
      linearBack(pre + 'attn.v', r.n1q, dV, dFromPath, m, d, d);
      for (let j = 0; j < m * d; j++) dN1q[j] += dFromPath[j];
      inputName = pre + 'attn.v.input';
    } else {
      const dQq = new Float32Array(m * d);
      const dKq = new Float32Array(m * d);
      const qh = new Float32Array(t * hd);
      const kh = new Float32Array(t * hd);
      const dqh = new Float32Array(t * hd);
      const dkh = new Float32Array(t * hd);
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          const at = (b * heads + h) * t * t;
          const dSh = dS.subarray(at, at + t * t);
          gatherHead(r.scores.qq, qh, b, h, t, d, hd);
          gatherHead(r.scores.kq, kh, b, h, t, d, hd);
          gemm(dSh, kh, dqh, { m: t, k: t, n: hd });
          gemm(dSh, qh, dkh, { m: t, k: t, n: hd, transA: true });
          scatterHead(dqh, dQq, b, h, t, d, hd);
          scatterHead(dkh, dKq, b, h, t, d, hd);
        }
      }
      const dQ = actBack(pre + 'attn.qk.a', r.scores.q, dQq, m, d, t);
      const dK = actBack(pre + 'attn.qk.b', r.scores.k, dKq, m, d, t);
      linearBack(pre + 'attn.qkv', r.n1q, mergeQkv(dQ, dK, dV, m, d), dN1q, m, d, 3 * d);
      inputName = pre + 'attn.qkv.input';
    }
    const dN1 = actBack(inputName, r.n1, dN1q, m, d, t);
    layerNormBackward(r.input, p(pre + 'norm1.weight'), r.n1Mean, r.n1Rstd, dN1, dResidual, g(pre + 'norm1.weight'), g(pre + 'norm1.bias'), m, d);
    for (let j = 0; j < m * d; j++) dx[j] += dResidual[j];
  }

  const dCls = g('cls_token');
  const dPos = g('pos_embed');
  const dEmbedded = new Float32Array(batch * np * d);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < t; i++) {
      const src = (b * t + i) * d;
      for (let j = 0; j < d; j++) dPos[i * d + j] += dx[src + j];
    }
    for (let j = 0; j < d; j++) dCls[j] += dx[b * t * d + j];
    dEmbedded.set(dx.subarray((b * t + 1) * d, (b + 1) * t * d), b * np * d);
  }
  linearBack('patch_embed.proj', a.patches, dEmbedded, undefined, batch * np, fanIn, d);
}

/**
 * The float weight W [out, in] of a linear op: its parameter, or for QKR's attn.v a view of qkv's V
 * rows and for attn.qkr the product W_qk formed from qkv's q and k rows (qkr.ts).
 */
export function floatWeight(model: QatModel, op: string): Float32Array {
  if (op.endsWith('.attn.v') || op.endsWith('.attn.qkr')) {
    const qkv = (model.params.get(`${op.slice(0, op.lastIndexOf('.'))}.qkv.weight`) as Tensor).data;
    const d = model.config.embedDim;
    return op.endsWith('.attn.v') ? qkv.subarray(2 * d * d, 3 * d * d) : qkrWeight(qkv, shapeOf(model.config, 1).qkr);
  }
  return (model.params.get(`${op}.weight`) as Tensor).data;
}

/**
 * The bias of a linear op in the model, or its gradient in `grads`: QKR's attn.v has the V third of
 * qkv's bias; attn.qkr has none (OFQ drops the q and k biases), a zero vector whose gradient is dropped.
 */
export function linearBias(model: QatModel, op: string, grads?: QatGrads): Float32Array {
  const params = grads ? grads.params : model.params;
  const d = model.config.embedDim;
  if (op.endsWith('.attn.qkr')) return new Float32Array(model.config.numHeads * d);
  if (op.endsWith('.attn.v')) return (params.get(`${op.slice(0, op.lastIndexOf('.'))}.qkv.bias`) as Tensor).data.subarray(2 * d, 3 * d);
  return (params.get(`${op}.bias`) as Tensor).data;
}

/** Ŵ of one linear op under its weight quantizer. */
export function quantizeWeight(model: QatModel, op: string): Float32Array {
  const w = floatWeight(model, op);
  const [rows, cols] = linearWeightShape(model.config, op);
  const wq = model.weights.get(op) as QatWeight;
  const out = new Float32Array(w.length);
  if (wq.scheme === 'lsq') lsqWeightForward(w, wq.step as Float32Array, out, undefined, rows, cols, wq.bits);
  else statsqForward(w, out, undefined, undefined, rows, cols, wq.bits);
  return out;
}

/** dŴ → dW (accumulated) through the op's STE; LSQ steps get their gradient too. */
function weightBackward(model: QatModel, grads: QatGrads, op: string, dWhat: Float32Array, mode: QatMode): void {
  const wq = model.weights.get(op) as QatWeight;
  const block = op.slice(0, op.lastIndexOf('.'));
  if (op.endsWith('.attn.qkr')) {
    // QKR is OFQ's alone, so W_qk is under StatsQ: its identity STE, then the product rule onto
    // qkv's q and k rows.
    const qkvW = (model.params.get(`${block}.qkv.weight`) as Tensor).data;
    qkrWeightBackward(qkvW, dWhat, (grads.params.get(`${block}.qkv.weight`) as Tensor).data, shapeOf(model.config, 1).qkr);
    return;
  }
  const d = model.config.embedDim;
  const tensor = op.endsWith('.attn.v') ? `${block}.qkv.weight` : `${op}.weight`;
  const full = (grads.params.get(tensor) as Tensor).data;
  const dW = op.endsWith('.attn.v') ? full.subarray(2 * d * d, 3 * d * d) : full;
  const w = floatWeight(model, op);
  const [rows, cols] = linearWeightShape(model.config, op);
  if (mode === 'float' || wq.scheme === 'statsq') {
    // StatsQ's STE is the identity, even outside the clip (OFQ §6a).
    for (let i = 0; i < dW.length; i++) dW[i] += dWhat[i];
    return;
  }
  const masked = new Float32Array(dW.length);
  if (wq.scheme === 'lsq') lsqWeightBackward(w, wq.step as Float32Array, dWhat, masked, grads.weightSteps.get(op) as Float32Array, rows, cols, wq.bits);
  else n2uqWeightBackward(w, dWhat, masked, rows, cols, wq.bits);
  for (let i = 0; i < dW.length; i++) dW[i] += masked[i];
}

/** qkv [M, 3D] → Q, K, V each [M, D] (timm's column order q | k | v). */
function splitQkv(qkv: Float32Array, m: number, d: number): [Float32Array, Float32Array, Float32Array] {
  const q = new Float32Array(m * d);
  const k = new Float32Array(m * d);
  const v = new Float32Array(m * d);
  for (let r = 0; r < m; r++) {
    q.set(qkv.subarray(r * 3 * d, r * 3 * d + d), r * d);
    k.set(qkv.subarray(r * 3 * d + d, r * 3 * d + 2 * d), r * d);
    v.set(qkv.subarray(r * 3 * d + 2 * d, r * 3 * d + 3 * d), r * d);
  }
  return [q, k, v];
}

function mergeQkv(q: Float32Array, k: Float32Array, v: Float32Array, m: number, d: number): Float32Array {
  const qkv = new Float32Array(m * 3 * d);
  for (let r = 0; r < m; r++) {
    qkv.set(q.subarray(r * d, r * d + d), r * 3 * d);
    qkv.set(k.subarray(r * d, r * d + d), r * 3 * d + d);
    qkv.set(v.subarray(r * d, r * d + d), r * 3 * d + 2 * d);
  }
  return qkv;
}
