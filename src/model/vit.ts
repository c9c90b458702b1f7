/**
 * The float Vision Transformer, with exactly the semantics of timm's `VisionTransformer`
 * (global_pool='token', class token, learned absolute position embedding, pre-norm blocks,
 * qkv_bias=True, no LayerScale, no fc_norm), so a timm checkpoint loads by name and gives the same
 * logits:
 *
 *   x = patch_embed(img)                       conv P×P stride P → [B, Np, D]
 *   x = cat(cls_token, x) + pos_embed          [B, T, D], T = Np + 1
 *   for each block:  x = x + attn(norm1(x));   x = x + mlp(norm2(x))
 *   logits = head(norm(x)[:, 0])               [B, numClasses]
 *
 * Every activation is a row-major Float32Array; a [B, T, D] tensor is stored as B·T rows of D.
 * Forward and backward call the layers in src/model/layers/, whose matrix products all go through
 * one GEMM import (layers/matmul.ts).
 */

import {
  configProblem, headDim, LAYER_NORM_EPS, mlpHidden, numPatches, numTokens, paramShapes,
  type Tensor, type ViTConfig, type ViTParams,
} from './config.js';
import { attentionBackward, attentionForward, type AttentionShape } from './layers/attention.js';
import { geluBackwardFromSlope, geluForward, geluForwardKeepSlope } from './layers/gelu.js';
import { layerNormBackward, layerNormForward } from './layers/layer-norm.js';
import { linearBackward, linearForward } from './layers/linear.js';
import { addClassAndPosition, im2col, patchEmbedBackward, patchEmbedForward, type PatchShape } from './layers/patch-embed.js';
import { createRng, truncatedNormal } from './random.js';

/** What one block's backward needs; each field also names the input of a timm layer (for calibration). */
export interface BlockActivations {
  /** [B·T, D] residual stream entering the block. */
  input: Float32Array;
  /** [B·T] per-token mean and 1/sqrt(var + eps) of norm1. */
  norm1Mean: Float32Array;
  norm1Rstd: Float32Array;
  /** [B·T, D] norm1 output = input of attn.qkv. */
  norm1Out: Float32Array;
  /** [B·T, 3D] attn.qkv output, timm layout [B, T, 3, H, d]. */
  qkv: Float32Array;
  /** [B, H, T, T] softmax(q·kᵀ·d^-0.5), row = query token. */
  attnProbs: Float32Array;
  /** [B·T, D] heads concatenated (head h owns columns h·d … h·d+d−1) = input of attn.proj. */
  attnOut: Float32Array;
  /** [B·T, D] residual stream after the attention branch = input of norm2. */
  afterAttn: Float32Array;
  /** [B·T] mean and 1/sqrt(var + eps) of norm2. */
  norm2Mean: Float32Array;
  norm2Rstd: Float32Array;
  /** [B·T, D] norm2 output = input of mlp.fc1. */
  norm2Out: Float32Array;
  /** [B·T, hidden] mlp.fc1 output, before GELU. */
  fc1Out: Float32Array;
  /** [B·T, hidden] GELU output = input of mlp.fc2. */
  geluOut: Float32Array;
  /** [B·T, hidden] gelu'(fc1Out) in float64, formed by the forward so the backward need not redo erf. */
  geluSlope: Float64Array;
}

/** Everything vitBackward needs, kept by vitForward(…, keep = true). */
export interface ViTActivations {
  batch: number;
  /** [B·Np, C·P·P] image patches in (c, ky, kx) order, patches row-major over the grid = input of patch_embed.proj. */
  patches: Float32Array;
  blocks: BlockActivations[];
  /** [B·T, D] residual stream after the last block = input of the final norm. */
  output: Float32Array;
  /**
   * [B] statistics of the final norm, for the class tokens only: timm normalises every token and
   * then pools token 0, so normalising token 0 alone gives the same logits with T times less work.
   */
  normMean: Float32Array;
  normRstd: Float32Array;
  /** [B, D] final norm of the class token = input of head. */
  clsNormed: Float32Array;
}

/**
 * timm's initialisation (`VisionTransformer.init_weights` with mode '', `init_weights_vit_timm`):
 * every nn.Linear weight trunc_normal(std .02) with zero bias, pos_embed trunc_normal(std .02),
 * LayerNorm weight 1 and bias 0. The class token gets trunc_normal(std .02) as in DeiT (newer timm
 * uses normal(std 1e-6); either is overwritten within a few steps). patch_embed.proj is an nn.Conv2d,
 * which timm leaves at PyTorch's default: weight and bias uniform in ±1/√fan_in (kaiming_uniform
 * with a = √5), fan_in = C·P·P. Deterministic: parameters are drawn in state_dict order from one seed.
 */
export function initViT(config: ViTConfig, seed: number): ViTParams {
  checkConfig(config);
  const rng = createRng(seed);
  const params: ViTParams = new Map();
  const fanInPatch = config.inChans * config.patchSize * config.patchSize;
  for (const [name, shape] of paramShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.startsWith('patch_embed.proj.')) {
      const bound = 1 / Math.sqrt(fanInPatch);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.nextFloat() - 1) * bound;
    } else if (/norm\d?\.weight$/.test(name)) {
      data.fill(1);
    } else if (name.endsWith('.weight') || name === 'pos_embed' || name === 'cls_token') {
      // timm's trunc_normal_(std=.02) keeps PyTorch's default absolute bounds [−2, 2].
      for (let i = 0; i < data.length; i++) data[i] = truncatedNormal(rng, 0, 0.02, -2, 2);
    }
    params.set(name, { shape: [...shape], data });
  }
  return params;
}

/**
 * images [B, C, H, W] (already normalised) → logits [B, numClasses]. With keep, also the activations
 * vitBackward needs (and that calibration can read: each names the input of a timm layer).
 */
export function vitForward(
  config: ViTConfig,
  params: ViTParams,
  images: Float32Array,
  batch: number,
  keep: boolean,
): { logits: Float32Array; activations?: ViTActivations } {
  checkConfig(config);
  checkTensors(config, params, 'params');
  const c = config.inChans;
  const s = config.imgSize;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`vitForward: batch must be a positive integer, got ${batch}`);
  if (images.length !== batch * c * s * s) {
    throw new RangeError(`vitForward: images hold ${images.length} floats, expected B·C·H·W = ${batch}·${c}·${s}·${s}`);
  }
  const d = config.embedDim;
  const np = numPatches(config);
  const t = numTokens(config);
  const m = batch * t;
  const hidden = mlpHidden(config);
  const p = (name: string): Float32Array => (params.get(name) as Tensor).data;
  const patchShape: PatchShape = { batch, channels: c, imgSize: s, patchSize: config.patchSize };
  const attnShape: AttentionShape = { batch, tokens: t, heads: config.numHeads, headDim: headDim(config) };

  // What is kept for the backward is fresh per call (the caller owns it); the rest is scratch.
  const buffer = keep ? (_name: string, length: number): Float32Array => new Float32Array(length) : scratchBuffer;
  const patches = buffer('forward.patches', batch * np * c * config.patchSize ** 2);
  im2col(images, patches, patchShape);
  const embedded = scratchBuffer('forward.embedded', batch * np * d);
  patchEmbedForward(patches, p('patch_embed.proj.weight'), p('patch_embed.proj.bias'), embedded, patchShape, d);

  let x = buffer('forward.x', m * d);
  addClassAndPosition(embedded, p('cls_token'), p('pos_embed'), x, batch, np, d);

  const blocks: BlockActivations[] = [];
  const branch = scratchBuffer('forward.branch', m * d);
  const newBlockBuffers = (input: Float32Array): BlockActivations => ({
    input,
    norm1Mean: buffer('forward.norm1Mean', m),
    norm1Rstd: buffer('forward.norm1Rstd', m),
    norm1Out: buffer('forward.norm1Out', m * d),
    qkv: buffer('forward.qkv', m * 3 * d),
    attnProbs: buffer('forward.attnProbs', batch * config.numHeads * t * t),
    attnOut: buffer('forward.attnOut', m * d),
    afterAttn: buffer('forward.afterAttn', m * d),
    norm2Mean: buffer('forward.norm2Mean', m),
    norm2Rstd: buffer('forward.norm2Rstd', m),
    norm2Out: buffer('forward.norm2Out', m * d),
    fc1Out: buffer('forward.fc1Out', m * hidden),
    geluOut: buffer('forward.geluOut', m * hidden),
    geluSlope: new Float64Array(keep ? m * hidden : 0),
  });
  // Without keep, one set of buffers serves every block: each block overwrites all of it.
  const shared = keep ? undefined : newBlockBuffers(x);
  for (let i = 0; i < config.depth; i++) {
    const pre = `blocks.${i}.`;
    const a = shared ?? newBlockBuffers(x);
    a.input = x;
    // x = x + attn(norm1(x))
    layerNormForward(x, p(pre + 'norm1.weight'), p(pre + 'norm1.bias'), a.norm1Out, a.norm1Mean, a.norm1Rstd, m, d, LAYER_NORM_EPS);
    linearForward(a.norm1Out, p(pre + 'attn.qkv.weight'), p(pre + 'attn.qkv.bias'), a.qkv, m, d, 3 * d);
    attentionForward(a.qkv, a.attnOut, a.attnProbs, attnShape);
    linearForward(a.attnOut, p(pre + 'attn.proj.weight'), p(pre + 'attn.proj.bias'), branch, m, d, d);
    for (let j = 0; j < m * d; j++) a.afterAttn[j] = x[j] + branch[j];
    // x = x + mlp(norm2(x))
    layerNormForward(a.afterAttn, p(pre + 'norm2.weight'), p(pre + 'norm2.bias'), a.norm2Out, a.norm2Mean, a.norm2Rstd, m, d, LAYER_NORM_EPS);
    linearForward(a.norm2Out, p(pre + 'mlp.fc1.weight'), p(pre + 'mlp.fc1.bias'), a.fc1Out, m, d, hidden);
    if (keep) geluForwardKeepSlope(a.fc1Out, a.geluOut, a.geluSlope, m * hidden);
    else geluForward(a.fc1Out, a.geluOut, m * hidden);
    linearForward(a.geluOut, p(pre + 'mlp.fc2.weight'), p(pre + 'mlp.fc2.bias'), branch, m, hidden, d);
    // Without keep the block input is dead once afterAttn exists, so the next input overwrites it.
    const next = keep ? new Float32Array(m * d) : x;
    for (let j = 0; j < m * d; j++) next[j] = a.afterAttn[j] + branch[j];
    if (keep) blocks.push(a);
    x = next;
  }

  // logits = head(norm(x)[:, 0]): only the class tokens are normalised (see ViTActivations).
  const clsRows = scratchBuffer('forward.clsRows', batch * d);
  for (let b = 0; b < batch; b++) clsRows.set(x.subarray(b * t * d, b * t * d + d), b * d);
  const normMean = buffer('forward.normMean', batch);
  const normRstd = buffer('forward.normRstd', batch);
  const clsNormed = buffer('forward.clsNormed', batch * d);
  layerNormForward(clsRows, p('norm.weight'), p('norm.bias'), clsNormed, normMean, normRstd, batch, d, LAYER_NORM_EPS);
  const logits = new Float32Array(batch * config.numClasses);
  linearForward(clsNormed, p('head.weight'), p('head.bias'), logits, batch, d, config.numClasses);

  if (!keep) return { logits };
  return { logits, activations: { batch, patches, blocks, output: x, normMean, normRstd, clsNormed } };
}

/**
 * Gradient of the loss w.r.t. the output of one matrix product, named as the trace's GEMM ops:
 *   patch_embed.proj      [B·Np, D]       patch embeddings before the class token and pos_embed
 *   blocks.N.attn.qkv     [B·T, 3D]
 *   blocks.N.attn.pv      [B·T, D]        P·V with the heads merged (= input of attn.proj)
 *   blocks.N.attn.proj    [B·T, D]
 *   blocks.N.mlp.fc1      [B·T, hidden]   before GELU
 *   blocks.N.mlp.fc2      [B·T, D]
 *   head                  [B, numClasses]
 * (Q·Kᵀ's gradient follows from attn.pv's through the softmax; the backward never forms it per op.)
 * The array is the backward's scratch: valid only during the call, copy what you keep. PTQ4ViT's
 * Hessian-guided metric weights each layer's output error by the square of these.
 */
export type OutputGradientSink = (op: string, grad: Float32Array) => void;

/**
 * Back-propagates dLogits [B, numClasses] (e.g. softmaxCrossEntropy's) through the forward that kept
 * `activations`, adding every parameter's gradient into `grads` (same names and shapes as params;
 * zero it first, or let it accumulate over micro-batches). `onOutputGradient`, when given, also sees
 * the gradient w.r.t. each matrix product's output (see OutputGradientSink); it changes nothing else.
 */
export function vitBackward(
  config: ViTConfig,
  params: ViTParams,
  activations: ViTActivations,
  dLogits: Float32Array,
  grads: ViTParams,
  onOutputGradient?: OutputGradientSink,
): void {
  checkConfig(config);
  checkTensors(config, params, 'params');
  checkTensors(config, grads, 'grads');
  const { batch } = activations;
  if (activations.blocks.length !== config.depth) {
    throw new Error(`vitBackward: activations hold ${activations.blocks.length} blocks, the config has ${config.depth} (was the forward run with keep = true?)`);
  }
  if (dLogits.length !== batch * config.numClasses) {
    throw new RangeError(`vitBackward: dLogits hold ${dLogits.length} floats, expected B·numClasses = ${batch}·${config.numClasses}`);
  }
  const d = config.embedDim;
  const np = numPatches(config);
  const t = numTokens(config);
  const m = batch * t;
  const hidden = mlpHidden(config);
  const p = (name: string): Float32Array => (params.get(name) as Tensor).data;
  const g = (name: string): Float32Array => (grads.get(name) as Tensor).data;
  const attnShape: AttentionShape = { batch, tokens: t, heads: config.numHeads, headDim: headDim(config) };

  // head and final norm, on the class tokens only.
  const dClsNormed = scratchBuffer('backward.dClsNormed', batch * d);
  onOutputGradient?.('head', dLogits);
  linearBackward(activations.clsNormed, p('head.weight'), dLogits, dClsNormed, g('head.weight'), g('head.bias'), batch, d, config.numClasses);
  const clsRows = scratchBuffer('backward.clsRows', batch * d);
  for (let b = 0; b < batch; b++) clsRows.set(activations.output.subarray(b * t * d, b * t * d + d), b * d);
  const dClsRows = scratchBuffer('backward.dClsRows', batch * d);
  layerNormBackward(clsRows, p('norm.weight'), activations.normMean, activations.normRstd, dClsNormed, dClsRows, g('norm.weight'), g('norm.bias'), batch, d);

  // dx: gradient of the residual stream, updated in place block by block.
  const dx = scratchBuffer('backward.dx', m * d).fill(0);
  for (let b = 0; b < batch; b++) dx.set(dClsRows.subarray(b * d, b * d + d), b * t * d);
  const dNorm = scratchBuffer('backward.dNorm', m * d);
  const dResidual = scratchBuffer('backward.dResidual', m * d);
  const dHidden = scratchBuffer('backward.dHidden', m * hidden);
  const dFc1Out = scratchBuffer('backward.dFc1Out', m * hidden);
  const dAttnOut = scratchBuffer('backward.dAttnOut', m * d);
  const dQkv = scratchBuffer('backward.dQkv', m * 3 * d);
  for (let i = config.depth - 1; i >= 0; i--) {
    const pre = `blocks.${i}.`;
    const a = activations.blocks[i];
    // x_out = afterAttn + fc2(gelu(fc1(norm2(afterAttn))))
    onOutputGradient?.(pre + 'mlp.fc2', dx);
    linearBackward(a.geluOut, p(pre + 'mlp.fc2.weight'), dx, dHidden, g(pre + 'mlp.fc2.weight'), g(pre + 'mlp.fc2.bias'), m, hidden, d);
    geluBackwardFromSlope(a.geluSlope, dHidden, dFc1Out, m * hidden);
    onOutputGradient?.(pre + 'mlp.fc1', dFc1Out);
    linearBackward(a.norm2Out, p(pre + 'mlp.fc1.weight'), dFc1Out, dNorm, g(pre + 'mlp.fc1.weight'), g(pre + 'mlp.fc1.bias'), m, d, hidden);
    layerNormBackward(a.afterAttn, p(pre + 'norm2.weight'), a.norm2Mean, a.norm2Rstd, dNorm, dResidual, g(pre + 'norm2.weight'), g(pre + 'norm2.bias'), m, d);
    for (let j = 0; j < m * d; j++) dx[j] += dResidual[j];
    // afterAttn = input + proj(attention(qkv(norm1(input))))
    onOutputGradient?.(pre + 'attn.proj', dx);
    linearBackward(a.attnOut, p(pre + 'attn.proj.weight'), dx, dAttnOut, g(pre + 'attn.proj.weight'), g(pre + 'attn.proj.bias'), m, d, d);
    onOutputGradient?.(pre + 'attn.pv', dAttnOut);
    attentionBackward(a.qkv, a.attnProbs, dAttnOut, dQkv, attnShape);
    onOutputGradient?.(pre + 'attn.qkv', dQkv);
    linearBackward(a.norm1Out, p(pre + 'attn.qkv.weight'), dQkv, dNorm, g(pre + 'attn.qkv.weight'), g(pre + 'attn.qkv.bias'), m, d, 3 * d);
    layerNormBackward(a.input, p(pre + 'norm1.weight'), a.norm1Mean, a.norm1Rstd, dNorm, dResidual, g(pre + 'norm1.weight'), g(pre + 'norm1.bias'), m, d);
    for (let j = 0; j < m * d; j++) dx[j] += dResidual[j];
  }

  // x0 = cat(cls_token, patch tokens) + pos_embed
  const dCls = g('cls_token');
  const dPos = g('pos_embed');
  const dEmbedded = scratchBuffer('backward.dEmbedded', batch * np * d);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < t; i++) {
      const src = (b * t + i) * d;
      for (let j = 0; j < d; j++) dPos[i * d + j] += dx[src + j];
    }
    for (let j = 0; j < d; j++) dCls[j] += dx[b * t * d + j];
    dEmbedded.set(dx.subarray((b * t + 1) * d, (b + 1) * t * d), b * np * d);
  }
  const patchShape: PatchShape = { batch, channels: config.inChans, imgSize: config.imgSize, patchSize: config.patchSize };
  onOutputGradient?.('patch_embed.proj', dEmbedded);
  patchEmbedBackward(activations.patches, p('patch_embed.proj.weight'), dEmbedded, g('patch_embed.proj.weight'), g('patch_embed.proj.bias'), patchShape, d);
}

/** Zero tensors with the names and shapes of params (a gradient buffer for vitBackward). */
export function zerosLike(params: ViTParams): ViTParams {
  const zeros: ViTParams = new Map();
  for (const [name, tensor] of params) zeros.set(name, { shape: [...tensor.shape], data: new Float32Array(tensor.data.length) });
  return zeros;
}

/** pixels [B, C, H, W] in [0, 1] → (pixel − mean[c]) / std[c], as torchvision's Normalize. */
export function normaliseImages(config: ViTConfig, pixels: Float32Array, batch: number): Float32Array {
  const plane = config.imgSize * config.imgSize;
  const c = config.inChans;
  if (pixels.length !== batch * c * plane) {
    throw new RangeError(`normaliseImages: pixels hold ${pixels.length} floats, expected B·C·H·W = ${batch}·${c}·${config.imgSize}·${config.imgSize}`);
  }
  const out = new Float32Array(pixels.length);
  for (let b = 0; b < batch; b++) {
    for (let ch = 0; ch < c; ch++) {
      const mean = Math.fround(config.mean[ch]);
      const std = Math.fround(config.std[ch]);
      const base = (b * c + ch) * plane;
      // float32 subtract, then divide (rounded once on store): the same bits as PyTorch's sub_().div_().
      for (let i = 0; i < plane; i++) out[base + i] = Math.fround(pixels[base + i] - mean) / std;
    }
  }
  return out;
}

/**
 * Buffers no caller ever sees — the backward's gradients in flight, a forward's intermediates that
 * are not kept — reused from call to call while their sizes stay the same: fresh ones cost a zero
 * fill and the garbage collection of megabytes per step. Every user writes each element before
 * reading it (the backward's dx is zeroed explicitly). Module state is per thread, as workers are.
 */
const scratch = new Map<string, Float32Array>();

function scratchBuffer(name: string, length: number): Float32Array {
  let data = scratch.get(name);
  if (data?.length !== length) {
    data = new Float32Array(length);
    scratch.set(name, data);
  }
  return data;
}

function checkConfig(config: ViTConfig): void {
  const problem = configProblem(config);
  if (problem) throw new Error(`ViT config: ${problem}`);
}

/** Every timm tensor present with its shape; a checkpoint that loaded wrongly fails here, by name. */
function checkTensors(config: ViTConfig, tensors: ViTParams, what: string): void {
  for (const [name, shape] of paramShapes(config)) {
    const tensor = tensors.get(name);
    if (!tensor) throw new Error(`${what}: missing tensor ${name}`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (tensor.data.length !== size || tensor.shape.join(',') !== shape.join(',')) {
      throw new Error(`${what}: ${name} has shape [${tensor.shape.join(', ')}] (${tensor.data.length} floats), expected [${shape.join(', ')}]`);
    }
  }
}
