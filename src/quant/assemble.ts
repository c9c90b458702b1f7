/**
 * What every quantization method shares on its way from a float model to a QuantizedViT:
 *
 *   captureFloat         run the float model on calibration pixels and keep, per quant op, its float
 *                        operands and output ("parallel calibration": every op is calibrated on the
 *                        full-precision network's inputs, PTQ4ViT §2)
 *   foldNormalisation    fold (x − mean)/std into patch_embed so both engines take raw pixels
 *   residualQuantizers   the 2·depth+1 signed 16-bit residual-stream quantizers from calibration max|x|
 *   assembleQuantizedViT per-op decisions → a QuantizedViT (standard or QKR attention), checked by
 *                        validate.ts
 *
 * Layouts of the captured operands (row-major, rows × cols):
 *   linear   input [rows, in], output [rows, out] (bias included); rows = images·T (patch_embed:
 *            images·Np of raw-pixel im2col patches; head: one class token per image)
 *   qk       a = Q, b = K as [images·H·T, d], head-contiguous (group g = image·H + h owns rows g·T…);
 *            output = scores S_g = Q_g·K_gᵀ·d^−½ as [images·H·T, T] (Q unscaled, the d^−½ applied after)
 *   pv       a = P [images·H·T, T] (softmax rows), b = V [images·H·T, d]; output O_g = P_g·V_g [images·H·T, d]
 * Row r of an operand is token r % tokens (the `tokens` field), which per-token quantizers index by.
 * The capture is of the float model, whose attention is always Q·Kᵀ; a method that produces QKR
 * blocks (OFQ's QAT) derives attn.v and attn.qkr itself and passes `attention: 'qkr'`.
 */
import { gemm } from '../kernels/gemm.js';
import { headDim, mlpHidden, numPatches, numTokens, paramShapes, type Tensor, type ViTConfig, type ViTParams } from '../model/config.js';
import { linearForward } from '../model/layers/linear.js';
import { im2col } from '../model/layers/patch-embed.js';
import { normaliseImages, vitForward } from '../model/vit.js';
import { maxAbs, uniformQuant } from './quantizers.js';
import {
  floatParamsOf, quantOpNames, RESIDUAL_BITS,
  type ActQuant, type AttentionForm, type QuantizedViT, type QuantLinear, type QuantMatmul, type QuantMethod, type QuantOp, type UniformQuant, type WeightQuant,
} from './spec.js';
import { quantizedViTProblem } from './validate.js';

/** One captured operand: `rows` × `cols` values, row r being token r % tokens. */
export interface Operand {
  data: Float32Array;
  rows: number;
  cols: number;
  tokens: number;
}

export interface LinearCapture {
  kind: 'linear';
  name: string;
  input: Operand;
  output: Operand;
  /** [out, in] float weight and [out] bias (patch_embed: with the normalisation folded in). */
  weight: Float32Array;
  bias: Float32Array;
  shape: [number, number];
}

export interface MatmulCapture {
  kind: 'matmul';
  name: string;
  a: Operand;
  b: Operand;
  output: Operand;
  /** images·heads independent products, each over `tokens` rows. */
  groups: number;
}

export type OpCapture = LinearCapture | MatmulCapture;

export interface FloatCapture {
  config: ViTConfig;
  images: number;
  ops: Map<string, OpCapture>;
  /** max|x| of the residual stream at each of the 2·depth+1 residual quantizers. */
  residualMaxAbs: Float64Array;
  /** [images, numClasses] float logits. */
  logits: Float32Array;
}

/** The input quantizer of patch_embed.proj: 8-bit unsigned, scale 1/255, exact for 8-bit images. */
export function pixelQuant(): UniformQuant {
  return uniformQuant(8, false, 1 / 255, 0);
}

/**
 * patch_embed's weight and bias acting on raw pixels: W·((x − m)/s) + b = (W/s)·x + (b − Σ W·m/s),
 * per input channel c of the im2col column (c, ky, kx). Sums in float64.
 */
export function foldNormalisation(config: ViTConfig, params: ViTParams): { weight: Float32Array; bias: Float32Array } {
  const w = tensor(params, 'patch_embed.proj.weight');
  const b = tensor(params, 'patch_embed.proj.bias');
  const plane = config.patchSize * config.patchSize;
  const ins = config.inChans * plane;
  const weight = new Float32Array(w.length);
  const bias = new Float32Array(b.length);
  for (let o = 0; o < config.embedDim; o++) {
    let shift = 0;
    for (let i = 0; i < ins; i++) {
      const c = Math.floor(i / plane);
      const v = w[o * ins + i] / config.std[c];
      weight[o * ins + i] = v;
      shift += v * config.mean[c];
    }
    bias[o] = b[o] - shift;
  }
  return { weight, bias };
}

/** The float weight [out, in], bias and shape of a linear op (patch_embed folded). */
export function linearParams(config: ViTConfig, params: ViTParams, name: string): { weight: Float32Array; bias: Float32Array; shape: [number, number] } {
  const w = params.get(`${name}.weight`);
  if (!w) throw new Error(`no weight for linear op ${name}`);
  const shape: [number, number] = [w.shape[0], w.data.length / w.shape[0]];
  if (name === 'patch_embed.proj') return { ...foldNormalisation(config, params), shape };
  return { weight: w.data, bias: tensor(params, `${name}.bias`), shape };
}

export interface CaptureOptions {
  /** Images per float forward pass (memory only; the results do not depend on it). */
  batch?: number;
  progress?: (done: number, total: number, what: string) => void;
}

/** Runs the float model on `count` raw images [count, C, H, W] in [0, 1] and keeps every quant op's operands. */
export function captureFloat(config: ViTConfig, params: ViTParams, pixels: Float32Array, count: number, options: CaptureOptions = {}): FloatCapture {
  const batch = Math.max(1, Math.min(options.batch ?? 32, count));
  const imageSize = config.inChans * config.imgSize * config.imgSize;
  if (pixels.length < count * imageSize) throw new RangeError(`captureFloat: ${pixels.length} pixels for ${count} images of ${imageSize}`);
  const d = config.embedDim;
  const t = numTokens(config);
  const np = numPatches(config);
  const h = config.numHeads;
  const hd = headDim(config);
  const hidden = mlpHidden(config);
  const ppc = config.inChans * config.patchSize ** 2;
  const groups = count * h;

  const ops = new Map<string, OpCapture>();
  const operand = (rows: number, cols: number, tokens: number): Operand => ({ data: new Float32Array(rows * cols), rows, cols, tokens });
  const linear = (name: string, rows: number, tokens: number): LinearCapture => {
    const p = linearParams(config, params, name);
    const cap: LinearCapture = { kind: 'linear', name, input: operand(rows, p.shape[1], tokens), output: operand(rows, p.shape[0], tokens), ...p };
    ops.set(name, cap);
    return cap;
  };
  const matmul = (name: string, aCols: number, bCols: number, outCols: number): MatmulCapture => {
    const cap: MatmulCapture = {
      kind: 'matmul', name, groups,
      a: operand(groups * t, aCols, t), b: operand(groups * t, bCols, t), output: operand(groups * t, outCols, t),
    };
    ops.set(name, cap);
    return cap;
  };
  linear('patch_embed.proj', count * np, np);
  for (let i = 0; i < config.depth; i++) {
    linear(`blocks.${i}.attn.qkv`, count * t, t);
    matmul(`blocks.${i}.attn.qk`, hd, hd, t);
    matmul(`blocks.${i}.attn.pv`, t, hd, hd);
    linear(`blocks.${i}.attn.proj`, count * t, t);
    linear(`blocks.${i}.mlp.fc1`, count * t, t);
    linear(`blocks.${i}.mlp.fc2`, count * t, t);
  }
  linear('head', count, 1);
  const residualMaxAbs = new Float64Array(2 * config.depth + 1);
  const logits = new Float32Array(count * config.numClasses);
  const get = <T extends OpCapture>(name: string): T => ops.get(name) as T;

  for (let start = 0; start < count; start += batch) {
    const b = Math.min(batch, count - start);
    const raw = pixels.subarray(start * imageSize, (start + b) * imageSize);
    const { logits: out, activations } = vitForward(config, params, normaliseImages(config, raw, b), b, true);
    const acts = activations as NonNullable<typeof activations>;
    logits.set(out, start * config.numClasses);

    const pe = get<LinearCapture>('patch_embed.proj');
    const patches = pe.input.data.subarray(start * np * ppc, (start + b) * np * ppc);
    im2col(raw, patches, { batch: b, channels: config.inChans, imgSize: config.imgSize, patchSize: config.patchSize });
    linearForward(patches, pe.weight, pe.bias, pe.output.data.subarray(start * np * d, (start + b) * np * d), b * np, ppc, d);

    const rows = (cap: Operand, first: number, n: number): Float32Array => cap.data.subarray(first * cap.cols, (first + n) * cap.cols);
    for (let i = 0; i < config.depth; i++) {
      const a = acts.blocks[i];
      const pre = `blocks.${i}.`;
      const at = start * t;
      const m = b * t;
      const qkv = get<LinearCapture>(pre + 'attn.qkv');
      rows(qkv.input, at, m).set(a.norm1Out);
      rows(qkv.output, at, m).set(a.qkv);

      const qk = get<MatmulCapture>(pre + 'attn.qk');
      const pv = get<MatmulCapture>(pre + 'attn.pv');
      const g0 = start * h;
      splitHeads(a.qkv, 3 * d, 0, rows(qk.a, g0 * t, b * h * t), b, t, h, hd);
      splitHeads(a.qkv, 3 * d, d, rows(qk.b, g0 * t, b * h * t), b, t, h, hd);
      splitHeads(a.qkv, 3 * d, 2 * d, rows(pv.b, g0 * t, b * h * t), b, t, h, hd);
      rows(pv.a, g0 * t, b * h * t).set(a.attnProbs);
      splitHeads(a.attnOut, d, 0, rows(pv.output, g0 * t, b * h * t), b, t, h, hd);
      for (let g = g0; g < g0 + b * h; g++) {
        const s = rows(qk.output, g * t, t);
        gemm(rows(qk.a, g * t, t), rows(qk.b, g * t, t), s, { m: t, k: hd, n: t, transB: true });
        const scale = 1 / Math.sqrt(hd);
        for (let j = 0; j < s.length; j++) s[j] *= scale;
      }

      const proj = get<LinearCapture>(pre + 'attn.proj');
      rows(proj.input, at, m).set(a.attnOut);
      linearForward(a.attnOut, proj.weight, proj.bias, rows(proj.output, at, m), m, d, d);
      const fc1 = get<LinearCapture>(pre + 'mlp.fc1');
      rows(fc1.input, at, m).set(a.norm2Out);
      rows(fc1.output, at, m).set(a.fc1Out);
      const fc2 = get<LinearCapture>(pre + 'mlp.fc2');
      rows(fc2.input, at, m).set(a.geluOut);
      linearForward(a.geluOut, fc2.weight, fc2.bias, rows(fc2.output, at, m), m, hidden, d);

      residualMaxAbs[2 * i] = Math.max(residualMaxAbs[2 * i], maxAbs(a.input));
      residualMaxAbs[2 * i + 1] = Math.max(residualMaxAbs[2 * i + 1], maxAbs(a.afterAttn));
    }
    residualMaxAbs[2 * config.depth] = Math.max(residualMaxAbs[2 * config.depth], maxAbs(acts.output));
    const head = get<LinearCapture>('head');
    rows(head.input, start, b).set(acts.clsNormed);
    rows(head.output, start, b).set(out);
    options.progress?.(start + b, count, 'float capture');
  }
  return { config, images: count, ops, residualMaxAbs, logits };
}

/** [B·T, width] rows, columns offset + h·hd … → [B·H·T, hd], head-contiguous per image. */
function splitHeads(src: Float32Array, width: number, offset: number, dst: Float32Array, images: number, t: number, heads: number, hd: number): void {
  for (let b = 0; b < images; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < t; i++) {
        const from = (b * t + i) * width + offset + h * hd;
        const to = ((b * heads + h) * t + i) * hd;
        for (let j = 0; j < hd; j++) dst[to + j] = src[from + j];
      }
    }
  }
}

/**
 * The output of a captured matmul for (possibly quantized) operands a and b, in the capture's
 * layout: qk → a_g·b_gᵀ·d^−½ per group, pv → a_g·b_g.
 */
export function matmulOutput(cap: MatmulCapture, a: Float32Array, b: Float32Array, out = new Float32Array(cap.output.data.length)): Float32Array {
  const t = cap.a.tokens;
  const isScores = cap.name.endsWith('.qk');
  const k = cap.a.cols;
  const n = cap.output.cols;
  const scale = 1 / Math.sqrt(cap.b.cols);
  for (let g = 0; g < cap.groups; g++) {
    const o = out.subarray(g * t * n, (g + 1) * t * n);
    const ag = a.subarray(g * t * k, (g + 1) * t * k);
    const bg = b.subarray(g * t * cap.b.cols, (g + 1) * t * cap.b.cols);
    gemm(ag, bg, o, isScores ? { m: t, k, n, transB: true } : { m: t, k, n });
    if (isScores) for (let j = 0; j < o.length; j++) o[j] *= scale;
  }
  return out;
}

/** The output of a captured linear for (possibly quantized) input x [rows, in] and weight [out, in], with bias. */
export function linearOutput(cap: LinearCapture, x: Float32Array, weight: Float32Array, bias = cap.bias, out = new Float32Array(cap.output.data.length)): Float32Array {
  linearForward(x, weight, bias, out, cap.input.rows, cap.shape[1], cap.shape[0]);
  return out;
}

/** Signed 16-bit per-tensor symmetric quantizers of the residual stream, scale max|x|/(2^15 − 1). */
export function residualQuantizers(residualMaxAbs: ArrayLike<number>): UniformQuant[] {
  return Array.from(residualMaxAbs, (m) => uniformQuant(RESIDUAL_BITS, true, m / (2 ** (RESIDUAL_BITS - 1) - 1)));
}

/** The float parameters a QuantizedViT keeps (cls_token, pos_embed, every norm). */
export function floatParams(params: ViTParams): ViTParams {
  return floatParamsOf(params);
}

/**
 * One method's decision for a linear op; `bias` defaults to the float bias (folded for patch_embed).
 * QKR's attn.v and attn.qkr have no float parameter of their own, so their decisions carry the bias.
 */
export interface LinearDecision {
  kind: 'linear';
  input: ActQuant;
  weight: WeightQuant;
  bias?: Float32Array;
}

export interface MatmulDecision {
  kind: 'matmul';
  a: ActQuant;
  b: ActQuant;
}

export type OpDecision = LinearDecision | MatmulDecision;

export interface AssembleInput {
  config: ViTConfig;
  params: ViTParams;
  method: QuantMethod;
  options: Record<string, unknown>;
  decisions: Map<string, OpDecision>;
  residual: UniformQuant[];
  /** The blocks' attention form (default 'standard'); 'qkr' expects attn.v and attn.qkr decisions instead of attn.qkv. */
  attention?: AttentionForm;
}

/** Builds the QuantizedViT from per-op decisions and checks it (a bad decision is a bug of the method). */
export function assembleQuantizedViT(input: AssembleInput): QuantizedViT {
  const { config, params, decisions } = input;
  const attention = input.attention ?? 'standard';
  const ops = new Map<string, QuantOp>();
  for (const name of quantOpNames(config, attention)) {
    const decision = decisions.get(name);
    if (!decision) throw new Error(`assembleQuantizedViT: no decision for op ${name}`);
    if (decision.kind === 'linear') {
      if (!decision.bias && isQkrLinear(name)) throw new Error(`assembleQuantizedViT: the decision for ${name} must carry its bias (a QKR op has no float bias to default to)`);
      const bias = decision.bias ?? linearParams(config, params, name).bias;
      const op: QuantLinear = { kind: 'linear', name, input: decision.input, weight: decision.weight, bias: Float32Array.from(bias) };
      ops.set(name, op);
    } else {
      const op: QuantMatmul = { kind: 'matmul', name, a: decision.a, b: decision.b };
      ops.set(name, op);
    }
  }
  const extra = [...decisions.keys()].filter((name) => !ops.has(name));
  if (extra.length > 0) throw new Error(`assembleQuantizedViT: decisions for unknown ops ${extra.join(', ')}`);
  const q: QuantizedViT = {
    config, ...(attention === 'qkr' ? { attention } : {}), method: input.method, options: input.options, floatParams: floatParams(params), ops, residual: input.residual,
  };
  const problem = quantizedViTProblem(q);
  if (problem) throw new Error(`assembleQuantizedViT: ${problem}`);
  return q;
}

/** attn.v and attn.qkr: the linears of a QKR block. */
function isQkrLinear(name: string): boolean {
  return name.endsWith('.attn.v') || name.endsWith('.attn.qkr');
}

function tensor(params: ViTParams, name: string): Float32Array {
  const t = params.get(name) as Tensor | undefined;
  if (!t) throw new Error(`missing parameter ${name}`);
  return t.data;
}
