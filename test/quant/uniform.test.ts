import { beforeAll, describe, expect, it } from 'vitest';
import type { ViTConfig, ViTParams } from '../../src/model/config.js';
import { loadDataset, type ImageSet } from '../../src/model/datasets.js';
import { initViT } from '../../src/model/vit.js';
import { captureFloat, linearOutput, type LinearCapture } from '../../src/quant/assemble.js';
import { quantizeWith } from '../../src/quant/methods/index.js';
import { quantizeUniform, uniformOptions, UNIFORM_DEFAULTS } from '../../src/quant/methods/uniform.js';
import { cosineSimilarity, dequantizeWeight, fakeQuantArray, initialStep, maxAbs } from '../../src/quant/quantizers.js';
import type { QuantLinear, QuantMatmul, UniformQuant } from '../../src/quant/spec.js';
import { refusal } from '../refusal.js';

const CONFIG: ViTConfig = { imgSize: 28, patchSize: 14, inChans: 1, embedDim: 8, depth: 1, numHeads: 2, mlpRatio: 2, numClasses: 10, mean: [0.3], std: [0.35] };

describe('uniform PTQ baselines', () => {
  let params: ViTParams;
  let calib: ImageSet;

  beforeAll(() => {
    params = initViT(CONFIG, 11);
    calib = loadDataset('fashion-mnist', 'train', 16);
  });

  it('quantizes every linear input and weight and both matmul operands at the requested bits (P unsigned, pixels u8 at 1/255)', () => {
    const q = quantizeUniform(CONFIG, params, calib, { wbits: 5, abits: 6, seed: 0, extra: { scale: 'minmax' } });
    for (const op of q.ops.values()) {
      if (op.kind === 'linear') {
        expect(op.weight.bits, op.name).toBe(5);
        if (op.name !== 'patch_embed.proj') expect(op.input.bits, op.name).toBe(6);
      } else {
        expect([op.a.bits, op.b.bits], op.name).toEqual([6, 6]);
      }
    }
    const pixels = (q.ops.get('patch_embed.proj') as QuantLinear).input as UniformQuant;
    expect([pixels.bits, pixels.signed, pixels.zeroPoint, pixels.scale[0]]).toEqual([8, false, 0, Math.fround(1 / 255)]);
    const p = (q.ops.get('blocks.0.attn.pv') as QuantMatmul).a as UniformQuant;
    expect([p.signed, p.zeroPoint]).toEqual([false, 0]);
    expect(q.residual).toHaveLength(3);
    expect(q.residual.every((r) => r.bits === 16 && r.signed)).toBe(true);
    expect(q.options).toMatchObject({ wbits: 5, abits: 6, calibration: 16, scale: 'minmax', symmetric: true, granularity: 'tensor' });
  });

  it('per-channel weights get one scale per output channel; asymmetric activations a zero point', () => {
    const q = quantizeUniform(CONFIG, params, calib, { wbits: 4, abits: 4, seed: 0, extra: { scale: 'minmax', granularity: 'channel', symmetric: false } });
    const fc1 = q.ops.get('blocks.0.mlp.fc1') as QuantLinear;
    expect(fc1.weight.scales).toHaveLength(16);
    expect(fc1.weight.zeroPoints).toHaveLength(16);
    const input = fc1.input as UniformQuant;
    expect(input.signed).toBe(false);
    expect(input.zeroPoint).toBeGreaterThan(0);
  });

  it('the cosine search beats the ends of its own grid on every linear layer output', () => {
    const q = quantizeUniform(CONFIG, params, calib, { wbits: 4, abits: 4, seed: 0, extra: { scale: 'cosine', grid: 20 } });
    const capture = captureFloat(CONFIG, params, calib.pixels, calib.count);
    for (const name of ['blocks.0.attn.qkv', 'blocks.0.mlp.fc1', 'head']) {
      const cap = capture.ops.get(name) as LinearCapture;
      const op = q.ops.get(name) as QuantLinear;
      const chosen = op.input as UniformQuant;
      const w = dequantizeWeight(op.weight);
      const score = (s: number): number => {
        const quant: UniformQuant = { ...chosen, scale: Float32Array.of(s) };
        return cosineSimilarity(linearOutput(cap, fakeQuantArray(quant, cap.input.data, cap.input.rows, cap.input.cols), w), cap.output.data);
      };
      const delta0 = initialStep(maxAbs(cap.input.data), 4, true);
      const best = score(chosen.scale[0]);
      // The chosen step is the best of the grid Δ0·(0.5 … 1.2), so it beats both ends.
      expect(best, name).toBeGreaterThanOrEqual(score(Math.fround(delta0 * 0.5)));
      expect(best, name).toBeGreaterThanOrEqual(score(Math.fround(delta0 * 1.2)));
    }
  });

  it('is deterministic: the same inputs give the same quantizers', () => {
    const a = quantizeUniform(CONFIG, params, calib, { wbits: 6, abits: 6, seed: 0, extra: { scale: 'mse', grid: 10 } });
    const b = quantizeWith('uniform', CONFIG, params, calib, { wbits: 6, abits: 6, seed: 0, extra: { scale: 'mse', grid: 10 } });
    expect([...b.ops.values()]).toEqual([...a.ops.values()]);
  });

  it('reports progress over every op, ending at done', () => {
    const seen: string[] = [];
    quantizeUniform(CONFIG, params, calib, { wbits: 8, abits: 8, seed: 0, extra: { scale: 'percentile' }, progress: (_d, _t, what) => seen.push(what) });
    expect(seen).toContain('blocks.0.attn.qk');
    expect(seen).toContain('head');
    expect(seen[seen.length - 1]).toBe('done');
  });

  it('reads options with defaults and refuses bad ones with one line', () => {
    expect(uniformOptions({})).toEqual(UNIFORM_DEFAULTS);
    expect(uniformOptions({ percentile: '99.9', symmetric: 'false', rounds: 2 })).toMatchObject({ percentile: 99.9, symmetric: false, rounds: 2 });
    expect(refusal(() => uniformOptions({ granularity: 'row' }))).toBe(`uniform: option granularity must be 'tensor' or 'channel', got "row"`);
    expect(refusal(() => uniformOptions({ grid: 0 }))).toBe('uniform: option grid must be a positive integer, got 0');
    expect(refusal(() => uniformOptions({ alpha: 2, beta: 1 }))).toBe('uniform: option alpha (2) must be below beta (1)');
    expect(refusal(() => quantizeUniform(CONFIG, params, calib, { wbits: 1, abits: 8, seed: 0 }))).toBe('uniform: wbits must be an integer in 2…16, got 1');
    expect(refusal(() => quantizeWith('nothing', CONFIG, params, calib, { wbits: 8, abits: 8, seed: 0 }))).toMatch(/^--method must be one of uniform, /);
  });
});
