import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import type { ViTConfig, ViTParams } from '../../src/model/config.js';
import { loadDataset, type ImageSet } from '../../src/model/datasets.js';
import { initViT, normaliseImages, vitForward } from '../../src/model/vit.js';
import { fakeQuantForward, fakeQuantLogits, FLOAT_NONLINEARS, type OperandName } from '../../src/quant/fakequant.js';
import { quantizeUniform } from '../../src/quant/methods/uniform.js';
import { fakeQuantArray } from '../../src/quant/quantizers.js';
import { quantOpNames, type QuantizedViT } from '../../src/quant/spec.js';

const MODEL = 'workloads/models/vit-fashion-mnist.safetensors';

function argmaxRows(logits: Float32Array, classes: number): number[] {
  return Array.from({ length: logits.length / classes }, (_, i) => {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    return row.indexOf(Math.max(...row));
  });
}

describe('fake-quant engine on the shipped model', () => {
  let config: ViTConfig;
  let params: ViTParams;
  let test: ImageSet;
  let floatLogits: Float32Array;

  beforeAll(() => {
    ({ config, params } = loadCheckpoint(MODEL));
    test = loadDataset('fashion-mnist', 'test', 200);
    floatLogits = vitForward(config, params, normaliseImages(config, test.pixels, test.count), test.count, false).logits;
  });

  it('at 16 bits everywhere, calibrated on the images it runs, gives the float logits within 5e-3', () => {
    const calib = { count: 50, pixels: test.pixels.subarray(0, 50 * 784), labels: test.labels.subarray(0, 50) };
    const q = quantizeUniform(config, params, calib, { wbits: 16, abits: 16, seed: 0, extra: { scale: 'minmax' } });
    const logits = fakeQuantLogits(q, calib.pixels, 50);
    let worst = 0;
    for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i] - floatLogits[i]));
    expect(worst).toBeLessThan(5e-3);
  });

  it('at W8A8 (min-max, 64 train images) agrees with the float top-1 on at least 98% of 200 test images', () => {
    const train = loadDataset('fashion-mnist', 'train', 64);
    const q = quantizeUniform(config, params, train, { wbits: 8, abits: 8, seed: 0, extra: { scale: 'minmax' } });
    const quant = argmaxRows(fakeQuantLogits(q, test.pixels, test.count), 10);
    const float = argmaxRows(floatLogits, 10);
    const agree = quant.filter((p, i) => p === float[i]).length;
    expect(agree / test.count).toBeGreaterThanOrEqual(0.98);
  });
});

describe('fake-quant engine mechanics (tiny model)', () => {
  const config: ViTConfig = { imgSize: 28, patchSize: 14, inChans: 1, embedDim: 8, depth: 2, numHeads: 2, mlpRatio: 2, numClasses: 10, mean: [0.3], std: [0.35] };
  let q: QuantizedViT;
  let pixels: Float32Array;

  beforeAll(() => {
    const set = loadDataset('fashion-mnist', 'train', 12);
    pixels = set.pixels;
    q = quantizeUniform(config, initViT(config, 2), set, { wbits: 4, abits: 4, seed: 0, extra: { scale: 'minmax' } });
  });

  it('gives the same logits whatever the batch size', () => {
    const whole = fakeQuantForward(q, pixels, 12);
    expect(fakeQuantLogits(q, pixels, 12, 5)).toEqual(whole);
  });

  it('reports every quantizer input and its fake-quantized value, residual ones included', () => {
    const seen = new Map<string, number>();
    fakeQuantForward(q, pixels.subarray(0, 3 * 784), 3, {
      observe(name: string, operand: OperandName, x, xHat, rows, cols) {
        seen.set(`${name}:${operand}`, rows * cols);
        const quantizer = name.startsWith('residual.') ? q.residual[Number(name.slice(9))] : (() => {
          const op = q.ops.get(name);
          if (!op) throw new Error(name);
          return op.kind === 'linear' ? op.input : operand === 'a' ? op.a : op.b;
        })();
        // The uniform method's quantizers are per tensor, so no token index is needed.
        expect(xHat).toEqual(fakeQuantArray(quantizer, x, rows, cols));
      },
    });
    const expected = quantOpNames(config).flatMap((n) => (n.endsWith('.qk') || n.endsWith('.pv') ? [`${n}:a`, `${n}:b`] : [`${n}:input`]));
    for (let i = 0; i < 2 * config.depth + 1; i++) expected.push(`residual.${i}:input`);
    expect([...seen.keys()].sort()).toEqual(expected.sort());
    // 3 images × 4 patches of 14×14 pixels; P is images·heads·T rows of T.
    expect(seen.get('patch_embed.proj:input')).toBe(3 * 4 * 196);
    expect(seen.get('blocks.0.attn.pv:a')).toBe(3 * 2 * 5 * 5);
  });

  it('runs injected nonlinears in place of the float ones', () => {
    const calls = { layerNorm: 0, softmaxRows: 0, gelu: 0 };
    const spied = fakeQuantForward(q, pixels.subarray(0, 2 * 784), 2, {
      nonlinears: {
        layerNorm: (...a) => { calls.layerNorm++; FLOAT_NONLINEARS.layerNorm(...a); },
        softmaxRows: (...a) => { calls.softmaxRows++; FLOAT_NONLINEARS.softmaxRows(...a); },
        gelu: (...a) => { calls.gelu++; FLOAT_NONLINEARS.gelu(...a); },
      },
    });
    expect(spied).toEqual(fakeQuantForward(q, pixels.subarray(0, 2 * 784), 2));
    expect(calls).toEqual({ layerNorm: 2 * 2 + 1, softmaxRows: 2 * 2 * 2, gelu: 2 });
    const relu = fakeQuantForward(q, pixels.subarray(0, 2 * 784), 2, { nonlinears: { gelu: (x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.max(0, x[i]); } } });
    expect(relu).not.toEqual(spied);
  });
});
