/**
 * Fake-quant inference: the quantized datapath computed in float, with quantize–dequantize at every
 * quantizer of a QuantizedViT and at the residual-stream quantizers, so its logits are what the
 * integer engine computes up to the integer approximations of the nonlinears and of requantization:
 *
 *   raw pixels → im2col → patch_embed.proj.input → x̂·Ŵᵀ + b (normalisation folded)
 *   x = cat(cls, patches) + pos_embed → residual[0]
 *   per block i: LN1 → qkv.input → qkv → Q, K, V → qk.a(Q), qk.b(K), pv.b(V)
 *                S = Q̂·K̂ᵀ·d^−½ → softmax → pv.a(P) → P̂·V̂ → proj.input → proj → + x → residual[2i+1]
 *                LN2 → fc1.input → fc1 → GELU → fc2.input → fc2 → + x → residual[2i+2]
 *   final LN of the class token → head.input → head → logits
 *
 * A QKR block (OFQ's query–key reparameterisation, spec.ts) replaces the first line by
 *                LN1 → X̂ = attn.v.input (= attn.qkr.input = qk.a, quantized once) → V = X̂·Ŵ_vᵀ + b → pv.b(V)
 *                U = X̂·Ŵ_qkrᵀ + b [T, H·C] → qk.b(U); per head S_h = X̂·Û_hᵀ·d^−½, Û_h = columns h·C…(h+1)·C
 * and goes on from the softmax as above. X̂ is reported to `observe` under attn.v, attn.qkr and qk 'a'.
 *
 * LayerNorm, softmax and GELU are injectable, so the integer engine can run this same datapath with
 * its float-domain approximations and tell the two error sources apart.
 */
import { LAYER_NORM_EPS, headDim, mlpHidden, numPatches, numTokens, type Tensor } from '../model/config.js';
import { gemm } from '../kernels/gemm.js';
import { softmaxRows } from '../model/layers/attention.js';
import { geluForward } from '../model/layers/gelu.js';
import { layerNormForward } from '../model/layers/layer-norm.js';
import { linearForward } from '../model/layers/linear.js';
import { addClassAndPosition, im2col } from '../model/layers/patch-embed.js';
import { attentionScores, gatherHead } from './heads.js';
import { dequantizeWeight, fakeQuantArray } from './quantizers.js';
import { attentionOf, type ActQuant, type QuantizedViT, type QuantLinear, type QuantMatmul, type WeightQuant } from './spec.js';

/** The nonlinear ops of the datapath, float in and float out. */
export interface Nonlinears {
  /** x [rows, d] → y [rows, d] = LayerNorm(x)·gamma + beta. */
  layerNorm(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, rows: number, d: number): void;
  /** In place, row-wise over x [rows, cols]. */
  softmaxRows(x: Float32Array, rows: number, cols: number): void;
  /** x [n] → y [n]. */
  gelu(x: Float32Array, y: Float32Array, n: number): void;
}

/** The exact float nonlinears of src/model/layers (the float model's own). */
export const FLOAT_NONLINEARS: Nonlinears = {
  layerNorm(x, gamma, beta, y, rows, d) {
    layerNormForward(x, gamma, beta, y, new Float32Array(rows), new Float32Array(rows), rows, d, LAYER_NORM_EPS);
  },
  softmaxRows,
  gelu(x, y, n) {
    geluForward(x, y, n);
  },
};

/** Which operand of an op a value belongs to: a linear's input, a matmul's a or b. */
export type OperandName = 'input' | 'a' | 'b';

export interface FakeQuantOptions {
  nonlinears?: Partial<Nonlinears>;
  /**
   * Called with every quantizer's input before quantization (x, preAdd not yet added) and its
   * dequantized output x̂, both [rows, cols]; for residual quantizers the name is `residual.<i>`
   * and the operand 'input'. Matmul operands come as [images·T, D] slices of qkv (Q, K, V) and
   * [images·H·T, T] (P); in a QKR block qk's a is X̂ [images·T, D] (the same arrays as attn.v's and
   * attn.qkr's input) and b is U [images·T, H·D]. The arrays are scratch: copy what you keep.
   */
  observe?: (name: string, operand: OperandName, x: Float32Array, xHat: Float32Array, rows: number, cols: number) => void;
}

/** pixels [batch, C, H, W] raw in [0, 1] → logits [batch, numClasses] of the fake-quantized model. */
export function fakeQuantForward(q: QuantizedViT, pixels: Float32Array, batch: number, options: FakeQuantOptions = {}): Float32Array {
  const { config } = q;
  const nl: Nonlinears = { ...FLOAT_NONLINEARS, ...options.nonlinears };
  const observe = options.observe;
  const c = config.inChans;
  const s = config.imgSize;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`fakeQuantForward: batch must be a positive integer, got ${batch}`);
  if (pixels.length !== batch * c * s * s) throw new RangeError(`fakeQuantForward: pixels hold ${pixels.length} floats, expected ${batch}·${c}·${s}·${s}`);
  const d = config.embedDim;
  const np = numPatches(config);
  const t = numTokens(config);
  const m = batch * t;
  const heads = config.numHeads;
  const hd = headDim(config);
  const hidden = mlpHidden(config);
  const fp = (name: string): Float32Array => (q.floatParams.get(name) as Tensor).data;
  const linearOp = (name: string): QuantLinear => q.ops.get(name) as QuantLinear;
  const matmulOp = (name: string): QuantMatmul => q.ops.get(name) as QuantMatmul;

  /** x̂ of x [rows, cols] under quantizer qz (a fresh array), reported to observe. */
  const quant = (name: string, operand: OperandName, qz: ActQuant, x: Float32Array, rows: number, cols: number, tokens?: number): Float32Array => {
    const xHat = fakeQuantArray(qz, x, rows, cols, new Float32Array(rows * cols), tokens);
    observe?.(name, operand, x, xHat, rows, cols);
    return xHat;
  };
  const linear = (name: string, x: Float32Array, rows: number, tokens?: number): Float32Array => {
    const op = linearOp(name);
    const [outs, ins] = op.weight.shape;
    const xHat = quant(name, 'input', op.input, x, rows, ins, tokens);
    const y = new Float32Array(rows * outs);
    linearForward(xHat, dequantized(op.weight), op.bias, y, rows, ins, outs);
    return y;
  };
  const residual = (i: number, x: Float32Array): Float32Array => quant(`residual.${i}`, 'input', q.residual[i], x, m, d);

  // Patch embedding on raw pixels (the normalisation is folded into its weight and bias).
  const ppc = c * config.patchSize ** 2;
  const patches = new Float32Array(batch * np * ppc);
  im2col(pixels, patches, { batch, channels: c, imgSize: s, patchSize: config.patchSize });
  const embedded = linear('patch_embed.proj', patches, batch * np, np);
  let x: Float32Array = new Float32Array(m * d);
  addClassAndPosition(embedded, fp('cls_token'), fp('pos_embed'), x, batch, np, d);
  x = residual(0, x);

  const normed = new Float32Array(m * d);
  const qs = new Float32Array(m * d);
  const ks = new Float32Array(m * d);
  const vs = new Float32Array(m * d);
  const probs = new Float32Array(batch * heads * t * t);
  const attnOut = new Float32Array(m * d);
  const headV = new Float32Array(t * hd);
  const headO = new Float32Array(t * hd);
  const scoreScale = 1 / Math.sqrt(hd);

  /** Q·Kᵀ attention of block `pre` on `normed`: softmax of the scores into `probs`, and V̂. */
  const standardScores = (pre: string): Float32Array => {
    const qkv = linear(pre + 'attn.qkv', normed, m);
    for (let r = 0; r < m; r++) {
      qs.set(qkv.subarray(r * 3 * d, r * 3 * d + d), r * d);
      ks.set(qkv.subarray(r * 3 * d + d, r * 3 * d + 2 * d), r * d);
      vs.set(qkv.subarray(r * 3 * d + 2 * d, (r + 1) * 3 * d), r * d);
    }
    const qk = matmulOp(pre + 'attn.qk');
    const pv = matmulOp(pre + 'attn.pv');
    const qHat = quant(qk.name, 'a', qk.a, qs, m, d, t);
    const kHat = quant(qk.name, 'b', qk.b, ks, m, d, t);
    const vHat = quant(pv.name, 'b', pv.b, vs, m, d, t);
    // Scores per (image, head); P is quantized over all of them at once by the caller.
    attentionScores(qHat, kHat, probs, { batch, tokens: t, heads, k: hd, sharedA: false }, scoreScale);
    return vHat;
  };

  /** QKR attention of block `pre` on `normed`: every head multiplies the whole X̂ [T, C] by its U_hᵀ. */
  const qkrScores = (pre: string): Float32Array => {
    const vOp = linearOp(pre + 'attn.v');
    const qkrOp = linearOp(pre + 'attn.qkr');
    const qk = matmulOp(pre + 'attn.qk');
    const pv = matmulOp(pre + 'attn.pv');
    // One quantizer for the three readers of X̂ (spec.ts checks they are equal).
    const xHat = quant(vOp.name, 'input', vOp.input, normed, m, d, t);
    observe?.(qkrOp.name, 'input', normed, xHat, m, d);
    observe?.(qk.name, 'a', normed, xHat, m, d);
    linearForward(xHat, dequantized(vOp.weight), vOp.bias, vs, m, d, d);
    const u = new Float32Array(m * heads * d);
    linearForward(xHat, dequantized(qkrOp.weight), qkrOp.bias, u, m, d, heads * d);
    const uHat = quant(qk.name, 'b', qk.b, u, m, heads * d, t);
    const vHat = quant(pv.name, 'b', pv.b, vs, m, d, t);
    attentionScores(xHat, uHat, probs, { batch, tokens: t, heads, k: d, sharedA: true }, scoreScale);
    return vHat;
  };

  const scores = attentionOf(q) === 'qkr' ? qkrScores : standardScores;
  for (let i = 0; i < config.depth; i++) {
    const pre = `blocks.${i}.`;
    nl.layerNorm(x, fp(pre + 'norm1.weight'), fp(pre + 'norm1.bias'), normed, m, d);
    const vHat = scores(pre);
    for (let g = 0; g < batch * heads; g++) nl.softmaxRows(probs.subarray(g * t * t, (g + 1) * t * t), t, t);
    const pv = matmulOp(pre + 'attn.pv');
    const pHat = quant(pv.name, 'a', pv.a, probs, batch * heads * t, t, t);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        gatherHead(vHat, headV, b, h, t, d, hd);
        gemm(pHat.subarray((b * heads + h) * t * t, (b * heads + h + 1) * t * t), headV, headO, { m: t, k: t, n: hd });
        for (let r = 0; r < t; r++) attnOut.set(headO.subarray(r * hd, (r + 1) * hd), (b * t + r) * d + h * hd);
      }
    }
    const proj = linear(pre + 'attn.proj', attnOut, m);
    for (let j = 0; j < m * d; j++) proj[j] += x[j];
    x = residual(2 * i + 1, proj);

    nl.layerNorm(x, fp(pre + 'norm2.weight'), fp(pre + 'norm2.bias'), normed, m, d);
    const fc1 = linear(pre + 'mlp.fc1', normed, m);
    nl.gelu(fc1, fc1, m * hidden);
    const fc2 = linear(pre + 'mlp.fc2', fc1, m);
    for (let j = 0; j < m * d; j++) fc2[j] += x[j];
    x = residual(2 * i + 2, fc2);
  }

  const clsRows = new Float32Array(batch * d);
  for (let b = 0; b < batch; b++) clsRows.set(x.subarray(b * t * d, b * t * d + d), b * d);
  const clsNormed = new Float32Array(batch * d);
  nl.layerNorm(clsRows, fp('norm.weight'), fp('norm.bias'), clsNormed, batch, d);
  return linear('head', clsNormed, batch, 1);
}

/** Dequantized weights are computed once per WeightQuant, not once per batch. */
const dequantizedWeights = new WeakMap<WeightQuant, Float32Array>();

function dequantized(w: WeightQuant): Float32Array {
  let out = dequantizedWeights.get(w);
  if (!out) {
    out = dequantizeWeight(w);
    dequantizedWeights.set(w, out);
  }
  return out;
}

/** Logits of `count` raw images, `batch` at a time (the result does not depend on the batch size). */
export function fakeQuantLogits(q: QuantizedViT, pixels: Float32Array, count: number, batch = 50, options: FakeQuantOptions = {}): Float32Array {
  const imageSize = q.config.inChans * q.config.imgSize ** 2;
  const logits = new Float32Array(count * q.config.numClasses);
  for (let start = 0; start < count; start += batch) {
    const b = Math.min(batch, count - start);
    logits.set(fakeQuantForward(q, pixels.subarray(start * imageSize, (start + b) * imageSize), b, options), start * q.config.numClasses);
  }
  return logits;
}
