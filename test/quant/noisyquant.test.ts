import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { loadDataset } from '../../src/model/datasets.js';
import { createRng } from '../../src/model/random.js';
import { captureFloat, type LinearCapture } from '../../src/quant/assemble.js';
import type { CalibrationSet } from '../../src/quant/methods/method.js';
import { noisyquant, takesNoise } from '../../src/quant/methods/noisyquant.js';
import { dequantizeArray, dequantizeWeight, fakeQuantValue, quantizeArray, uniformQuant } from '../../src/quant/quantizers.js';
import type { QuantLinear, QuantMatmul, QuantizedViT, UniformQuant } from '../../src/quant/spec.js';
import { refusal } from '../refusal.js';

describe('Theorem 1 on one quantization bin (step 1, levels at the integers, thresholds at the half-integers)', () => {
  /** Mean |x̂ − x| of an element at x under noise U(−h, h), the noise removed after quantization (2001 evenly spaced draws). */
  const noisyError = (x: number, h: number): number => {
    const draws = Float32Array.from({ length: 2001 }, (_, i) => -h + (2 * h * i) / 2000);
    const q: UniformQuant = { ...uniformQuant(8, true, 1), addend: { kind: 'noise', preAdd: draws, postAdd: draws.map((v) => -v) } };
    let sum = 0;
    for (let c = 0; c < draws.length; c++) sum += Math.abs(fakeQuantValue(q, x, c) - draws[c] - x);
    return sum / draws.length;
  };
  const cleanError = (x: number): number => Math.abs(fakeQuantValue(uniformQuant(8, true, 1), x) - x);

  it('noise lowers the expected error of an element near a rounding threshold and raises it for one near a level', () => {
    expect(noisyError(0.45, 0.5)).toBeLessThan(cleanError(0.45));
    expect(noisyError(0.05, 0.5)).toBeGreaterThan(cleanError(0.05));
  });

  it('with a half-bin noise, the error falls exactly for elements within a quarter step of a threshold', () => {
    for (let x = 0; x <= 0.5; x += 0.02) {
      const toThreshold = 0.5 - x;
      if (Math.abs(toThreshold - 0.25) < 0.015) continue;
      expect(noisyError(x, 0.5) < cleanError(x), `x = ${x}`).toBe(toThreshold < 0.25);
    }
  });

  it('noise narrower than the distance to the nearest threshold never lowers the error', () => {
    for (const x of [0.1, 0.2, 0.3, 0.4]) expect(noisyError(x, 0.5 - x - 0.02)).toBeGreaterThanOrEqual(cleanError(x) - 1e-12);
  });
});

describe('noisyquant on the shipped model', () => {
  const { config, params } = loadCheckpoint('workloads/models/vit-fashion-mnist.safetensors');
  const train = loadDataset('fashion-mnist', 'train', 24);
  const calib: CalibrationSet = { count: train.count, pixels: train.pixels, labels: train.labels };
  const options = { wbits: 4, abits: 4, seed: 7, extra: { clipPoints: 40, noisePoints: 40, shiftPoints: 20 } };
  const q = noisyquant(config, params, calib, options);
  const capture = captureFloat(config, params, calib.pixels, calib.count);
  const noisy = [...q.ops.values()].filter((op): op is QuantLinear => op.kind === 'linear' && op.input.kind === 'uniform' && op.input.addend !== undefined);

  it('adds noise only before the inputs of qkv, proj, fc1 and fc2, and picks a nonzero half-range for some of them', () => {
    expect(noisy.length).toBeGreaterThan(0);
    for (const op of noisy) expect(takesNoise(op.name), op.name).toBe(true);
    for (const op of q.ops.values()) {
      if (op.kind === 'matmul') expect([op.a, op.b].every((a) => a.kind === 'uniform' && !a.addend)).toBe(true);
    }
    expect(((q.ops.get('blocks.0.attn.pv') as QuantMatmul).a as UniformQuant).signed).toBe(false);
  });

  it('each noise vector is U(−n, n) regenerated from its recorded seed, removed by postAdd = −N', () => {
    for (const op of noisy) {
      const addend = (op.input as UniformQuant).addend!;
      const { seed, halfRange, shift } = addend.noise!;
      expect(shift).toBe(0);
      expect(halfRange).toBeGreaterThan(0);
      expect(halfRange).toBeLessThan(2 * (op.input as UniformQuant).scale[0]);
      const rng = createRng(seed);
      for (let c = 0; c < addend.preAdd.length; c++) {
        expect(addend.preAdd[c]).toBe(Math.fround(halfRange * (2 * rng.nextFloat() - 1)));
        expect(addend.postAdd[c]).toBe(-addend.preAdd[c]);
      }
    }
  });

  it('the folded bias removes the noise exactly: Q(X + N)·Ŵᵀ + (B − Ŵ·N) = (Q(X + N) − N)·Ŵᵀ + B', () => {
    for (const op of noisy) {
      const cap = capture.ops.get(op.name) as LinearCapture;
      const [outs, ins] = cap.shape;
      const n = (op.input as UniformQuant).addend!.preAdd;
      const w = dequantizeWeight(op.weight);
      for (let o = 0; o < outs; o++) {
        let s = 0;
        for (let c = 0; c < ins; c++) s += w[o * ins + c] * n[c];
        expect(op.bias[o]).toBe(Math.fround(cap.bias[o] - s));
      }
      const rows = Math.min(cap.input.rows, 40);
      const x = cap.input.data.subarray(0, rows * ins);
      const xq = dequantizeArray(op.input, quantizeArray(op.input, x, rows, ins), rows, ins);
      let worst = 0;
      let largest = 0;
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < outs; o++) {
          let engine = op.bias[o];
          let formula = cap.bias[o];
          for (let c = 0; c < ins; c++) {
            engine += xq[r * ins + c] * w[o * ins + c];
            formula += (xq[r * ins + c] - n[c]) * w[o * ins + c];
          }
          worst = Math.max(worst, Math.abs(engine - formula));
          largest = Math.max(largest, Math.abs(formula));
        }
      }
      expect(worst).toBeLessThan(1e-6 * largest);
    }
  });

  it('the same seed gives the same bits; another seed other noise', () => {
    expect(noisyquant(config, params, calib, options)).toEqual(q);
    const other = noisyquant(config, params, calib, { ...options, seed: 8 });
    const name = noisy[0].name;
    const preAdd = (qq: QuantizedViT): Float32Array | undefined => ((qq.ops.get(name) as QuantLinear).input as UniformQuant).addend?.preAdd;
    expect(preAdd(other)).not.toEqual(preAdd(q));
  });

  it('the mean shift alone is a constant addend with no noise, kept apart from the noise', () => {
    const shifted = noisyquant(config, params, calib, { ...options, extra: { ...options.extra, noise: false, shift: true } });
    const addends = [...shifted.ops.values()].flatMap((op) => (op.kind === 'linear' && op.input.kind === 'uniform' && op.input.addend ? [op.input.addend] : []));
    expect(addends.length).toBeGreaterThan(0);
    for (const a of addends) {
      expect(a.noise!.halfRange).toBe(0);
      expect(a.preAdd.every((v) => v === Math.fround(a.noise!.shift))).toBe(true);
    }
  });

  it('refuses bad options in one line naming the field', () => {
    const run = (extra: Record<string, unknown>, abits = 4): string => refusal(() => noisyquant(config, params, calib, { wbits: 4, abits, seed: 0, extra }));
    expect(run({ noise: 1 })).toMatch(/^noisyquant: extra\.noise must be true or false, got 1$/);
    expect(run({ noisePoints: 0.5 })).toMatch(/^noisyquant: extra\.noisePoints must be a positive integer/);
    expect(run({ gaussian: true })).toMatch(/^noisyquant: unknown option "gaussian" \(known: noise, shift, /);
    expect(run({}, 17)).toMatch(/^noisyquant: abits must be an integer in 2…16, got 17$/);
  });
});
