/**
 * Shared fixtures of the integer-engine tests: the shipped Fashion-MNIST ViT quantized W8A8 by the
 * uniform method (min-max scales on 32 calibration images, so it takes well under a second), and a
 * few hundred test images.
 */
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { loadDataset, type ImageSet } from '../../src/model/datasets.js';
import { loadCalibrationSet } from '../../src/quant/calibration.js';
import { quantizeUniform } from '../../src/quant/methods/uniform.js';
import { createRng } from '../../src/model/random.js';
import { dequantizeWeight } from '../../src/quant/quantizers.js';
import type { QuantizedViT, QuantLinear, QuantMatmul, UniformQuant } from '../../src/quant/spec.js';

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
