import { describe, expect, it } from 'vitest';
import type { ViTConfig, ViTParams } from '../../src/model/config.js';
import { headDim, numTokens } from '../../src/model/config.js';
import { createRng } from '../../src/model/random.js';
import { softmaxCrossEntropy } from '../../src/model/layers/softmax-cross-entropy.js';
import { initViT, normaliseImages, vitBackward, vitForward, zerosLike } from '../../src/model/vit.js';
import { captureFloat, type LinearCapture, type MatmulCapture } from '../../src/quant/assemble.js';
import { outputGradients } from '../../src/quant/hessian.js';
import type { CalibrationSet } from '../../src/quant/methods/method.js';
import { GELU_MIN_MAGNITUDE, ptq4vit } from '../../src/quant/methods/ptq4vit.js';
import { fakeQuantValue } from '../../src/quant/quantizers.js';
import type { QuantLinear, QuantMatmul } from '../../src/quant/spec.js';
import { refusal } from '../refusal.js';

const tiny: ViTConfig = {
  imgSize: 8, patchSize: 4, inChans: 1, embedDim: 8, depth: 2, numHeads: 2, mlpRatio: 2, numClasses: 3,
  mean: [0.5], std: [0.25],
};

/** Parameters large enough that attention is far from uniform and GELU sees both signs. */
function params(seed: number): ViTParams {
  const p = initViT(tiny, seed);
  const rng = createRng(seed + 100);
  for (const [name, t] of p) {
    if (/norm\d?\.weight$/.test(name)) continue;
    for (let i = 0; i < t.data.length; i++) t.data[i] = (2 * rng.nextFloat() - 1) * 0.6;
  }
  return p;
}

/** 8-bit images (k/255, as the datasets hold) and labels. */
function calibration(count: number, seed: number): CalibrationSet {
  const rng = createRng(seed);
  const pixels = new Float32Array(count * tiny.imgSize * tiny.imgSize);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.nextInt(256) / 255;
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.nextInt(tiny.numClasses);
  return { count, pixels, labels };
}

const model = params(1);
const calib = calibration(12, 2);

describe('output gradients for the Hessian-guided metric', () => {
  const grads = outputGradients(tiny, model, calib.pixels, calib.labels, calib.count, 5);

  it('the gradient of every linear op output sums over rows to that layer’s bias gradient (cross-entropy on the labels)', () => {
    const { logits, activations } = vitForward(tiny, model, normaliseImages(tiny, calib.pixels, calib.count), calib.count, true);
    const { dLogits } = softmaxCrossEntropy(logits, calib.labels, calib.count, tiny.numClasses);
    const paramGrads = zerosLike(model);
    vitBackward(tiny, model, activations!, dLogits, paramGrads);
    for (const [name, grad] of grads) {
      if (name.endsWith('.qk') || name.endsWith('.pv')) continue;
      const bias = paramGrads.get(`${name}.bias`)!.data;
      const rows = grad.length / bias.length;
      for (let o = 0; o < bias.length; o++) {
        let s = 0;
        for (let r = 0; r < rows; r++) s += grad[r * bias.length + o];
        expect(s).toBeCloseTo(bias[o], 6);
      }
    }
  });

  it('the score gradient of Q·Kᵀ times K gives back the q part of attn.qkv’s output gradient', () => {
    const t = numTokens(tiny);
    const hd = headDim(tiny);
    const h = tiny.numHeads;
    const d = tiny.embedDim;
    const capture = captureFloat(tiny, model, calib.pixels, calib.count);
    for (let block = 0; block < tiny.depth; block++) {
      const dS = grads.get(`blocks.${block}.attn.qk`)!;
      const dQkv = grads.get(`blocks.${block}.attn.qkv`)!;
      const k = (capture.ops.get(`blocks.${block}.attn.qk`) as MatmulCapture).b.data;
      let worst = 0;
      let largest = 0;
      for (let b = 0; b < calib.count; b++) {
        for (let head = 0; head < h; head++) {
          const g = b * h + head;
          for (let i = 0; i < t; i++) {
            for (let c = 0; c < hd; c++) {
              let s = 0;
              for (let j = 0; j < t; j++) s += dS[(g * t + i) * t + j] * k[(g * t + j) * hd + c];
              const want = dQkv[(b * t + i) * 3 * d + head * hd + c];
              worst = Math.max(worst, Math.abs(s / Math.sqrt(hd) - want));
              largest = Math.max(largest, Math.abs(want));
            }
          }
        }
      }
      expect(largest).toBeGreaterThan(0);
      expect(worst).toBeLessThan(1e-5 * largest);
    }
  });

  it('every op gets a nonzero gradient whose squares are far from uniform, so the metric weights outputs unequally', () => {
    for (const [name, grad] of grads) {
      let max = 0;
      let sum = 0;
      for (const v of grad) {
        max = Math.max(max, v * v);
        sum += v * v;
      }
      expect(sum, name).toBeGreaterThan(0);
      expect(max / (sum / grad.length), name).toBeGreaterThan(2);
    }
  });
});

describe('ptq4vit', () => {
  const q = ptq4vit(tiny, model, calib, { wbits: 4, abits: 4, seed: 0 });

  it('the Hessian metric chooses other steps than cosine similarity for some op', () => {
    const cosine = ptq4vit(tiny, model, calib, { wbits: 4, abits: 4, seed: 0, extra: { metric: 'cosine' } });
    const differs = [...q.ops.keys()].filter((name) => JSON.stringify(describeOp(q.ops.get(name)!)) !== JSON.stringify(describeOp(cosine.ops.get(name)!)));
    expect(differs.length).toBeGreaterThan(0);
  });

  it('twin quantizers keep a power-of-two ratio between their two steps in every output they produce', () => {
    const capture = captureFloat(tiny, model, calib.pixels, calib.count);
    const half = 2 ** 3;
    for (let block = 0; block < tiny.depth; block++) {
      const fc2 = (q.ops.get(`blocks.${block}.mlp.fc2`) as QuantLinear).input;
      if (fc2.kind !== 'twin-gelu') throw new Error('fc2 input is not twin-gelu');
      expect(fc2.negScale).toBe(GELU_MIN_MAGNITUDE / half);
      expect(Number.isInteger(fc2.posShift)).toBe(true);
      const big = fc2.negScale * 2 ** fc2.posShift;
      let negatives = 0;
      for (const x of (capture.ops.get(`blocks.${block}.mlp.fc2`) as LinearCapture).input.data) {
        const y = fakeQuantValue(fc2, x);
        const code = y < 0 ? y / fc2.negScale : y / big;
        expect(Math.abs(code - Math.round(code))).toBeLessThan(1e-9);
        expect(Math.round(code)).toBeGreaterThanOrEqual(y < 0 ? -half : 0);
        expect(Math.round(code)).toBeLessThanOrEqual(y < 0 ? 0 : half - 1);
        if (y < 0) negatives++;
      }
      expect(negatives).toBeGreaterThan(0);

      const p = (q.ops.get(`blocks.${block}.attn.pv`) as QuantMatmul).a;
      if (p.kind !== 'twin-softmax') throw new Error('P is not twin-softmax');
      const large = 1 / (half - 1);
      const small = large * 2 ** -p.splitExponent;
      for (const x of (capture.ops.get(`blocks.${block}.attn.pv`) as MatmulCapture).a.data) {
        const y = fakeQuantValue(p, x);
        const step = x <= 2 ** -p.splitExponent ? small : large;
        expect(Math.abs(y / step - Math.round(y / step))).toBeLessThan(1e-9);
        expect(y / step).toBeLessThanOrEqual(half - 1 + 1e-9);
      }
    }
  });

  it('q, k and v thirds of attn.qkv get their own weight steps; the other weights one step per tensor', () => {
    const qkv = (q.ops.get('blocks.0.attn.qkv') as QuantLinear).weight;
    const d = tiny.embedDim;
    expect(qkv.scales.length).toBe(3 * d);
    for (let part = 0; part < 3; part++) {
      for (let o = 0; o < d; o++) expect(qkv.scales[part * d + o]).toBe(qkv.scales[part * d]);
    }
    expect(new Set([qkv.scales[0], qkv.scales[d], qkv.scales[2 * d]]).size).toBeGreaterThan(1);
    expect((q.ops.get('blocks.0.mlp.fc1') as QuantLinear).weight.scales.length).toBe(1);
  });

  it('the ablation switches give uniform P (unsigned) and uniform fc2 input (signed)', () => {
    const plain = ptq4vit(tiny, model, calib, { wbits: 4, abits: 4, seed: 0, extra: { twinSoftmax: false, twinGelu: false } });
    const p = (plain.ops.get('blocks.1.attn.pv') as QuantMatmul).a;
    const g = (plain.ops.get('blocks.1.mlp.fc2') as QuantLinear).input;
    expect(p.kind === 'uniform' && !p.signed).toBe(true);
    expect(g.kind === 'uniform' && g.signed).toBe(true);
  });

  it('the same inputs give the same quantized model, bit for bit; sampled-label gradients depend on the seed only', () => {
    expect(ptq4vit(tiny, model, calib, { wbits: 4, abits: 4, seed: 0 })).toEqual(q);
    const sampled = (seed: number): unknown => ptq4vit(tiny, model, calib, { wbits: 4, abits: 4, seed, extra: { gradientLabels: 'sampled' } }).ops;
    expect(sampled(3)).toEqual(sampled(3));
  });

  it('refuses bad options in one line naming the field', () => {
    const run = (extra: Record<string, unknown>, wbits = 4): string => refusal(() => ptq4vit(tiny, model, calib, { wbits, abits: 4, seed: 0, extra }));
    expect(run({ metric: 'kl' })).toMatch(/^ptq4vit: extra\.metric must be "hessian" or "cosine", got "kl"$/);
    expect(run({ twinSoftmax: 'yes' })).toMatch(/^ptq4vit: extra\.twinSoftmax must be true or false/);
    expect(run({ gradientLabels: 'kl' })).toMatch(/^ptq4vit: extra\.gradientLabels must be "true" or "sampled", got "kl"$/);
    expect(run({ rounds: 0 })).toMatch(/^ptq4vit: extra\.rounds must be a positive integer/);
    expect(run({ sosOffset: true })).toMatch(/^ptq4vit: unknown option "sosOffset" \(known: twinSoftmax, /);
    expect(run({}, 1)).toMatch(/^ptq4vit: wbits must be an integer in 2…16/);
    for (const message of [run({ metric: 'kl' }), run({}, 1)]) expect(message).not.toContain('\n');
  });
});

/** An op's quantizer choices as plain numbers (scales, kinds, shifts). */
function describeOp(op: QuantLinear | QuantMatmul): unknown {
  if (op.kind === 'linear') return [op.input, Array.from(op.weight.scales)].map((x) => JSON.stringify(x, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v)));
  return JSON.stringify([op.a, op.b], (_k, v) => (v instanceof Float32Array ? Array.from(v) : v));
}
