/**
 * Shared fixtures of the integer-engine tests: the shipped Fashion-MNIST ViT quantized W8A8 by the
 * uniform method (min-max scales on 32 calibration images, so it takes well under a second), variants
 * of it (other quantizer kinds; QKR attention), and a few hundred test images.
 */
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { loadDataset, type ImageSet } from '../../src/model/datasets.js';
import { loadCalibrationSet } from '../../src/quant/calibration.js';
import { quantizeUniform } from '../../src/quant/methods/uniform.js';
import { createRng } from '../../src/model/random.js';
import { assembleQuantizedViT, type OpDecision } from '../../src/quant/assemble.js';
import { fakeQuantForward } from '../../src/quant/fakequant.js';
import { dequantizeWeight, maxAbs, uniformQuant } from '../../src/quant/quantizers.js';
import { quantOpNames, type ActQuant, type QuantizedViT, type QuantLinear, type QuantMatmul, type UniformQuant, type WeightQuant } from '../../src/quant/spec.js';

export const MODEL_FILE = new URL('../../workloads/models/vit-fashion-mnist.safetensors', import.meta.url).pathname;

let cached: QuantizedViT | undefined;

export function uniformW8A8(): QuantizedViT {
  if (cached) return cached;
  const { config, params } = loadCheckpoint(MODEL_FILE);
  cached = quantizeUniform(config, params, loadCalibrationSet('fashion-mnist', 32, 0), { wbits: 8, abits: 8, seed: 0, extra: { scale: 'minmax' } });
  return cached;
}

export function testImages(count: number): ImageSet {
  return loadDataset('fashion-mnist', 'test', count);
}

export function argmaxRows(logits: Float32Array, classes: number): Uint8Array {
  const out = new Uint8Array(logits.length / classes);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

/**
 * The uniform model with PTQ4ViT's twin quantizers on every P and fc2 input, an N2UQ-style threshold
 * quantizer (uniform midpoints, signed offset) on every fc1 input, and NoisyQuant noise on every proj
 * input with its removal folded into the proj bias.
 */
export function variantModel(base: QuantizedViT): QuantizedViT {
  const ops = new Map(base.ops);
  const rng = createRng(11);
  for (let i = 0; i < base.config.depth; i++) {
    const b = `blocks.${i}.`;
    const pv = ops.get(b + 'attn.pv') as QuantMatmul;
    ops.set(b + 'attn.pv', { ...pv, a: { kind: 'twin-softmax', bits: 8, splitExponent: 3 } });
    const fc2 = ops.get(b + 'mlp.fc2') as QuantLinear;
    const step = (fc2.input as UniformQuant).scale[0];
    const negScale = 0.16997 / 128;
    ops.set(b + 'mlp.fc2', { ...fc2, input: { kind: 'twin-gelu', bits: 8, negScale, posShift: Math.max(0, Math.round(Math.log2(step / negScale))) } });
    const fc1 = ops.get(b + 'mlp.fc1') as QuantLinear;
    const s1 = (fc1.input as UniformQuant).scale[0];
    const thresholds = Float64Array.from({ length: 255 }, (_, j) => (j - 128 + 0.5) * s1);
    ops.set(b + 'mlp.fc1', { ...fc1, input: { kind: 'threshold', bits: 8, thresholds, step: s1, offset: -128 * s1 } });
    const proj = ops.get(b + 'attn.proj') as QuantLinear;
    const sp = (proj.input as UniformQuant).scale[0];
    const d = base.config.embedDim;
    const noise = Float32Array.from({ length: d }, () => (rng.nextFloat() - 0.5) * sp);
    const w = dequantizeWeight(proj.weight);
    const bias = Float32Array.from(proj.bias, (v, o) => {
      let s = 0;
      for (let c = 0; c < d; c++) s += w[o * d + c] * noise[c];
      return v - s;
    });
    const input: UniformQuant = { ...(proj.input as UniformQuant), addend: { kind: 'noise', preAdd: noise, postAdd: noise.map((v) => -v) } };
    ops.set(b + 'attn.proj', { ...proj, input, bias });
  }
  return { ...base, ops };
}

/**
 * `base` (standard attention) reparameterised as OFQ's QKR (../shared/QUANT-METHODS.md §6a): per block
 * and head W_qk,h = W_q,hᵀ·W_k,h from qkv's dequantized weight (W_q,h = rows h·d…, W_k,h = rows C + h·d…),
 * stacked into attn.qkr [H·C, C] and quantized per row (8-bit odd levels as StatsQ stores them, or 8-bit
 * symmetric uniform); attn.v takes qkv's V rows (codes, scales, zero points) and V bias; X̂ = qkv's input
 * quantizer (a post-add zeroed); U 8-bit signed per tensor at max|U| over `count` calibration images,
 * block by block, so each block's U is measured behind the earlier blocks' final quantizers. The q and
 * k biases are dropped: k's adds a per-row constant to the scores (softmax ignores it), q's changes the model.
 */
export function qkrModel(base: QuantizedViT, calibration: Float32Array, count: number, weightKind: WeightQuant['kind'] = 'odd-level'): QuantizedViT {
  const { config } = base;
  const c = config.embedDim;
  const heads = config.numHeads;
  const hd = c / heads;
  const decisions = new Map<string, OpDecision>();
  for (const name of quantOpNames(config)) {
    const op = base.ops.get(name);
    if (op?.kind === 'linear') decisions.set(name, { kind: 'linear', input: op.input, weight: op.weight, bias: op.bias });
    else if (op) decisions.set(name, { kind: 'matmul', a: op.a, b: op.b });
  }
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}.attn.`;
    const qkv = base.ops.get(b + 'qkv') as QuantLinear;
    decisions.delete(b + 'qkv');
    const w = dequantizeWeight(qkv.weight);
    const wqk = new Float32Array(heads * c * c);
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < hd; j++) {
        const q = (h * hd + j) * c;
        const k = (c + h * hd + j) * c;
        for (let r = 0; r < c; r++) {
          const row = (h * c + r) * c;
          for (let col = 0; col < c; col++) wqk[row + col] += w[q + r] * w[k + col];
        }
      }
    }
    const x = noPostAdd(qkv.input);
    decisions.set(b + 'v', { kind: 'linear', input: x, weight: vRows(qkv.weight, c), bias: qkv.bias.slice(2 * c, 3 * c) });
    decisions.set(b + 'qkr', { kind: 'linear', input: x, weight: perRow8(wqk, heads * c, c, weightKind), bias: new Float32Array(heads * c) });
    decisions.set(b + 'qk', { kind: 'matmul', a: x, b: uniformQuant(8, true, 1) });
  }
  const q = assembleQuantizedViT({
    config, params: base.floatParams, method: base.method, options: { ...base.options, qkr: true }, decisions, residual: base.residual, attention: 'qkr',
  });
  for (let i = 0; i < config.depth; i++) {
    const name = `blocks.${i}.attn.qk`;
    let max = 0;
    fakeQuantForward(q, calibration.subarray(0, count * config.imgSize ** 2 * config.inChans), count, {
      observe(op, operand, u) {
        if (op === name && operand === 'b') max = Math.max(max, maxAbs(u));
      },
    });
    ((q.ops.get(name) as QuantMatmul).b as UniformQuant).scale[0] = max / 127;
  }
  return q;
}

/** The V rows C…2C of qkv's weight [3C, C] as a [C, C] weight of its own. */
function vRows(w: WeightQuant, c: number): WeightQuant {
  const rows = (v: Float32Array | Int32Array): typeof v => (v.length === 1 ? v.slice() : v.slice(2 * c, 3 * c));
  const out: WeightQuant = { kind: w.kind, bits: w.bits, codes: w.codes.slice(2 * c * c, 3 * c * c), shape: [c, c], scales: rows(w.scales) as Float32Array };
  if (w.zeroPoints) out.zeroPoints = rows(w.zeroPoints) as Int32Array;
  return out;
}

/**
 * 8-bit per-row weights of w [outs, ins]: odd levels (StatsQ's code r = clamp(⌊n·w/s⌋, −n, n−1), n = 128,
 * stored as 2r + 1 with the half step s/2n as scale; s = max|row|, no clipping at 8 bits) or symmetric uniform.
 */
function perRow8(w: Float32Array, outs: number, ins: number, kind: WeightQuant['kind']): WeightQuant {
  const n = 128;
  const codes = new Int32Array(outs * ins);
  const scales = new Float32Array(outs);
  for (let o = 0; o < outs; o++) {
    const row = w.subarray(o * ins, (o + 1) * ins);
    const s = Math.max(maxAbs(row), 1e-12);
    scales[o] = kind === 'odd-level' ? s / (2 * n) : s / (n - 1);
    for (let i = 0; i < ins; i++) {
      codes[o * ins + i] = kind === 'odd-level'
        ? 2 * Math.max(-n, Math.min(n - 1, Math.floor((n * row[i]) / s))) + 1
        : Math.max(-n, Math.min(n - 1, Math.floor(row[i] / scales[o] + 0.5)));
    }
  }
  return { kind, bits: 8, codes, shape: [outs, ins], scales };
}

function noPostAdd(x: ActQuant): ActQuant {
  if (x.kind === 'twin-softmax' || !x.addend) return x;
  return { ...x, addend: { ...x.addend, postAdd: new Float32Array(x.addend.postAdd.length) } };
}
