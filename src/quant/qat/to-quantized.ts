/**
 * A trained QAT model → the QuantizedViT every later stage reads (spec.ts), through Q1's
 * assembleQuantizedViT:
 *   LSQ activation     uniform, zero point 0, one scale per tensor or per token (OFQ); OFQ's learned
 *                      biases become a 'learned-bias' addend, and Ŵ·β_post is folded into the bias
 *   N2UQ activation    threshold: the forward thresholds T_i = B_i + a_i/2, step, offset
 *   LSQ weight         uniform signed codes, per-output-channel scales
 *   StatsQ / N2UQ      odd-level codes 2r + 1 with the half step mean|W_o|/2^(b−1)
 * With QKR (model.attention 'qkr') a block's attn.v and attn.qkr linears and qk's `a` share one X̂
 * quantizer (the learned pre-bias as addend, no post-bias), attn.v takes qkv's V rows and bias,
 * attn.qkr the StatsQ codes of W_qk and a zero bias;
 * plus the 16-bit residual-stream quantizers, whose ranges come from the quantized model's own
 * residual stream on calibration images (2× the largest |x| seen, one bit of the 16 spent on headroom
 * so a test image beyond the calibration range is not clipped).
 */
import { assembleQuantizedViT, pixelQuant, residualQuantizers, type OpDecision } from '../assemble.js';
import { maxAbs } from '../quantizers.js';
import { linearWeightShape, quantOpNames, type ActQuant, type QuantizedViT, type WeightQuant } from '../spec.js';
import { forwardThresholds, lsqWeightForward, statsqForward, thresholdOffset } from './fake-quantizers.js';
import { floatWeight, inputOperandName, linearBias, qatForward, type QatAct, type QatModel } from './model.js';

/** Headroom of the residual quantizers over the calibration range. */
const RESIDUAL_HEADROOM = 2;

export function toQuantizedViT(model: QatModel, calibPixels: Float32Array, calibCount: number, options: Record<string, unknown>): QuantizedViT {
  const { config } = model;
  const decisions = new Map<string, OpDecision>();
  // One ActQuant per trained quantizer, so QKR's three readers of X̂ hold the same value.
  const quantizers = new Map([...model.acts].map(([name, q]) => [name, actQuant(q)]));
  const operand = (name: string): ActQuant => quantizers.get(name) as ActQuant;
  for (const name of quantOpNames(config, model.attention)) {
    if (name.endsWith('.qk') || name.endsWith('.pv')) {
      const a = model.attention === 'qkr' && name.endsWith('.qk') ? operand(`${name.slice(0, -'qk'.length)}v.input`) : operand(`${name}.a`);
      decisions.set(name, { kind: 'matmul', a, b: operand(`${name}.b`) });
      continue;
    }
    const { weight, dequantized } = weightQuant(model, name);
    const bias = Float64Array.from(linearBias(model, name));
    const inputQ = name === 'patch_embed.proj' ? pixelQuant() : operand(inputOperandName(name));
    const post = model.acts.get(inputOperandName(name));
    if (post?.kind === 'lsq' && post.postBias) {
      // Ŵ·(x̂ + β_post) + b = Ŵ·x̂ + (b + Ŵ·β_post): the post-bias lives in the layer's bias.
      const [rows, cols] = weight.shape;
      for (let o = 0; o < rows; o++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += dequantized[o * cols + c] * post.postBias[c];
        bias[o] += s;
      }
    }
    decisions.set(name, { kind: 'linear', input: inputQ, weight, bias: Float32Array.from(bias) });
  }
  return assembleQuantizedViT({
    config, params: model.params, method: model.method, options, decisions, attention: model.attention,
    residual: residualQuantizers(residualRanges(model, calibPixels, calibCount)),
  });
}

function actQuant(q: QatAct): ActQuant {
  if (q.kind === 'threshold') {
    return { kind: 'threshold', bits: q.bits, thresholds: forwardThresholds(q), step: q.step[0], offset: thresholdOffset(q) };
  }
  const addend = q.preBias
    ? { kind: 'learned-bias' as const, preAdd: Float32Array.from(q.preBias), postAdd: q.postBias ? Float32Array.from(q.postBias) : new Float32Array(q.preBias.length) }
    : undefined;
  return { kind: 'uniform', bits: q.bits, signed: q.signed, scale: Float32Array.from(q.step), zeroPoint: 0, ...(addend ? { addend } : {}) };
}

function weightQuant(model: QatModel, op: string): { weight: WeightQuant; dequantized: Float32Array } {
  const w = floatWeight(model, op);
  const [rows, cols] = linearWeightShape(model.config, op);
  const wq = model.weights.get(op);
  if (!wq) throw new Error(`no weight quantizer for ${op}`);
  const codes = new Int32Array(w.length);
  const dequantized = new Float32Array(w.length);
  if (wq.step) {
    lsqWeightForward(w, wq.step, dequantized, codes, rows, cols, wq.bits);
    return { weight: { kind: 'uniform', bits: wq.bits, codes, shape: [rows, cols], scales: Float32Array.from(wq.step) }, dequantized };
  }
  const scales = new Float32Array(rows);
  statsqForward(w, dequantized, codes, scales, rows, cols, wq.bits);
  // An all-zero row has mean|W| = 0 and its codes stand for 0 only with scale 0, which the spec
  // refuses; a scale far below any weight keeps the row (practically) zero.
  for (let o = 0; o < rows; o++) if (!(scales[o] > 0)) scales[o] = 1e-12;
  return { weight: { kind: 'odd-level', bits: wq.bits, codes, shape: [rows, cols], scales }, dequantized };
}

/** max|x| of the quantized model's residual stream at each residual quantizer, times the headroom. */
function residualRanges(model: QatModel, pixels: Float32Array, count: number): Float64Array {
  const { config } = model;
  const ranges = new Float64Array(2 * config.depth + 1);
  const imageSize = config.inChans * config.imgSize * config.imgSize;
  for (let from = 0; from < count; from += 250) {
    const n = Math.min(250, count - from);
    const { activations } = qatForward(model, pixels.subarray(from * imageSize, (from + n) * imageSize), n);
    activations.blocks.forEach((b, i) => {
      ranges[2 * i] = Math.max(ranges[2 * i], maxAbs(b.input));
      ranges[2 * i + 1] = Math.max(ranges[2 * i + 1], maxAbs(b.afterAttn));
    });
    ranges[2 * config.depth] = Math.max(ranges[2 * config.depth], maxAbs(activations.output));
  }
  for (let i = 0; i < ranges.length; i++) ranges[i] *= RESIDUAL_HEADROOM;
  return ranges;
}
