import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { loadDataset } from '../../src/model/datasets.js';
import { captureFloat, matmulOutput, type LinearCapture, type MatmulCapture } from '../../src/quant/assemble.js';
import { dequantizeWeight, fakeQuantArray, maxAbs, pearson, quantizeWeight, uniformQuant } from '../../src/quant/quantizers.js';
import { rankingLoss } from '../../src/quant/ranking-loss.js';
import { calibrateLinear, calibrateLiu2021, calibrateMatmul, meanImagePearson, parseOptions, type Liu2021Options } from '../../src/quant/methods/liu2021.js';
import type { MethodOptions } from '../../src/quant/methods/method.js';
import type { QuantLinear, QuantMatmul, UniformQuant } from '../../src/quant/spec.js';
import { refusal } from '../refusal.js';

const { config, params } = loadCheckpoint('workloads/models/vit-fashion-mnist.safetensors');
const calib = loadDataset('fashion-mnist', 'train', 8);
const capture = captureFloat(config, params, calib.pixels, calib.count);
/** Short searches: a coarse grid and few rounds keep the suite fast; the logic is the same. */
const FAST = { candidates: 12, maxIterations: 4 };
const options = (wbits: number, extra: Record<string, unknown> = {}): MethodOptions => ({ wbits, abits: wbits, seed: 3, extra: { ...FAST, ...extra } });
const opts = (extra: Record<string, unknown> = {}): Liu2021Options => parseOptions(options(4, extra));

describe('similarity-aware scale search', () => {
  it('averages the Pearson correlation of each image and ignores affine changes of the output', () => {
    const fp = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i));
    const q = fp.map((v, i) => (i < 12 ? 3 * v + 1 : -v));
    // Two images of 3 rows × 4 columns: the first correlates perfectly, the second anti-correlates.
    expect(meanImagePearson(fp, 4, 0, q, 4, 0, 4, 6, 3)).toBeCloseTo(0, 12);
    const noisy = fp.map((v, i) => v + 0.3 * Math.cos(7 * i));
    const expected = (pearson(fp.subarray(0, 12), noisy.subarray(0, 12)) + pearson(fp.subarray(12), noisy.subarray(12))) / 2;
    expect(meanImagePearson(fp, 4, 0, noisy, 4, 0, 4, 6, 3)).toBeCloseTo(expected, 12);
  });

  it('picks qkv steps on the grid that beat the min-max start, one weight step per q/k/v block', () => {
    const cap = capture.ops.get('blocks.1.attn.qkv') as LinearCapture;
    const c = calibrateLinear(cap, 4, 4, opts({ biasCorrection: false }));
    const d = config.embedDim;
    const steps = [0, d, 2 * d].map((o) => c.weight.scales[o]);
    expect(new Set(steps).size).toBe(3);
    for (let g = 0; g < 3; g++) expect(c.weight.scales.subarray(g * d, (g + 1) * d).every((s) => s === steps[g])).toBe(true);
    // Γ of the result against Γ of every step at its max-based start (Δ0 = max|x| / (2^(b−1) − 0.5)).
    const delta0 = (x: ArrayLike<number>): number => maxAbs(x) / 7.5;
    const startScales = new Float32Array(3 * d);
    for (let g = 0; g < 3; g++) startScales.fill(delta0(cap.weight.subarray(g * d * d, (g + 1) * d * d)), g * d, (g + 1) * d);
    const startWeight = dequantizeWeight(quantizeWeight(cap.weight, cap.shape, 4, startScales));
    const gamma = (input: UniformQuant, w: Float32Array): number => {
      const y = new Float32Array(cap.output.data.length);
      const x = fakeQuantArray(input, cap.input.data, cap.input.rows, cap.input.cols);
      for (let r = 0; r < cap.input.rows; r++) {
        for (let o = 0; o < 3 * d; o++) {
          let acc = cap.bias[o];
          for (let i = 0; i < d; i++) acc += x[r * d + i] * w[o * d + i];
          y[r * 3 * d + o] = acc;
        }
      }
      let sum = 0;
      for (let g = 0; g < 3; g++) sum += meanImagePearson(cap.output.data, 3 * d, g * d, y, 3 * d, g * d, d, cap.input.rows, cap.input.tokens);
      return sum / 3;
    };
    expect(gamma(c.input, dequantizeWeight(c.weight))).toBeCloseTo(c.similarity, 5);
    expect(c.similarity).toBeGreaterThan(gamma(uniformQuant(4, true, delta0(cap.input.data)), startWeight));
    // Every chosen step is one of the 12 grid points in [0.5, 1.2]·Δ0.
    const onGrid = Array.from({ length: 12 }, (_, i) => Math.fround(delta0(cap.input.data) * (0.5 + (i * 0.7) / 11)));
    expect(onGrid).toContain(c.input.scale[0]);
  });

  it('bias correction zeroes the calibration mean of the output error per channel', () => {
    const cap = capture.ops.get('blocks.2.mlp.fc2') as LinearCapture;
    const meanError = (bias: Float32Array, c: ReturnType<typeof calibrateLinear>): number => {
      const [outs, ins] = cap.shape;
      const x = fakeQuantArray(c.input, cap.input.data, cap.input.rows, ins);
      const w = dequantizeWeight(c.weight);
      let worst = 0;
      for (let o = 0; o < outs; o++) {
        let err = 0;
        for (let r = 0; r < cap.input.rows; r++) {
          let acc = bias[o];
          for (let i = 0; i < ins; i++) acc += x[r * ins + i] * w[o * ins + i];
          err += acc - cap.output.data[r * outs + o];
        }
        worst = Math.max(worst, Math.abs(err / cap.input.rows));
      }
      return worst;
    };
    const corrected = calibrateLinear(cap, 3, 3, opts());
    const plain = calibrateLinear(cap, 3, 3, opts({ biasCorrection: false }));
    expect(plain.bias).toEqual(cap.bias);
    expect(meanError(plain.bias, plain)).toBeGreaterThan(1e-3);
    expect(meanError(corrected.bias, corrected)).toBeLessThan(1e-5);
  });

  it('the ranking-aware Q·Kᵀ search keeps the score order better than Γ alone at 3 bits', () => {
    const cap = capture.ops.get('blocks.0.attn.qk') as MatmulCapture;
    const loss = (c: ReturnType<typeof calibrateMatmul>): number => {
      const s = matmulOutput(cap, fakeQuantArray(c.a, cap.a.data, cap.a.rows, cap.a.cols), fakeQuantArray(c.b, cap.b.data, cap.b.rows, cap.b.cols));
      return rankingLoss(cap.output.data, s, cap.output.rows, cap.output.cols);
    };
    const ranked = calibrateMatmul(cap, 3, opts(), true, config.numHeads);
    const plain = calibrateMatmul(cap, 3, opts(), false, config.numHeads);
    expect(ranked.rankingLossPerPair).toBeDefined();
    expect(plain.rankingLossPerPair).toBeUndefined();
    expect(loss(ranked)).toBeLessThanOrEqual(loss(plain));
  });
});

describe('liu2021 method', () => {
  it('without mixed precision quantizes every op at wbits/abits and records its options', () => {
    const q = calibrateLiu2021(config, params, calib, { wbits: 6, abits: 5, seed: 1, extra: FAST }).model;
    expect(q.method).toBe('liu2021');
    expect(q.options).toMatchObject({ wbits: 6, abits: 5, ranking: true, biasCorrection: true, mixedPrecision: false, calibImages: 8 });
    for (const [name, op] of q.ops) {
      if (op.kind === 'linear') {
        expect(op.weight.bits).toBe(6);
        expect(op.input.bits).toBe(name === 'patch_embed.proj' ? 8 : 5);
      } else {
        expect([op.a.bits, op.b.bits]).toEqual([5, 5]);
      }
    }
    expect(q.residual).toHaveLength(2 * config.depth + 1);
  });

  it('mixed precision gives each MSA and MLP one candidate bit-width within the size budget', () => {
    const { model, report } = calibrateLiu2021(config, params, calib, options(4, { mixedPrecision: true, candidateBits: [3, 4, 5, 6] }));
    const modules = report.modules ?? [];
    expect(modules).toHaveLength(2 * config.depth);
    const size = modules.reduce((s, m) => s + m.params * m.bits, 0);
    expect(size).toBe(report.size?.bits);
    expect(size).toBeLessThanOrEqual(modules.reduce((s, m) => s + m.params * 4, 0));
    for (const m of modules) {
      expect([3, 4, 5, 6]).toContain(m.bits);
      const ops = m.name.endsWith('attn') ? ['attn.qkv', 'attn.qk', 'attn.pv', 'attn.proj'] : ['mlp.fc1', 'mlp.fc2'];
      for (const op of ops) {
        const q = model.ops.get(m.name.replace(/(attn|mlp)$/, op));
        if (q?.kind === 'linear') expect([q.weight.bits, q.input.bits]).toEqual([m.bits, m.bits]);
        else expect([(q as QuantMatmul).a.bits, (q as QuantMatmul).b.bits]).toEqual([m.bits, m.bits]);
      }
      // Ω falls as the width grows from 3 to 6 bits.
      const omega = m.omegaPostSoftmax ?? m.omegaFeature ?? [];
      expect(omega[0]).toBeGreaterThan(omega[3]);
      if (m.omegaPreSoftmax) expect(m.omegaPreSoftmax[0]).toBeGreaterThan(m.omegaPreSoftmax[3]);
      // At 3 bits, P·V's own quantizer of P adds to the error of the map.
      if (m.omegaQuantizedPostSoftmax) expect(m.omegaQuantizedPostSoftmax[0]).toBeGreaterThan(omega[0]);
    }
    expect((model.ops.get('patch_embed.proj') as QuantLinear).weight.bits).toBe(4);
    expect((model.ops.get('head') as QuantLinear).input.bits).toBe(4);
    expect(model.options.moduleBits).toEqual(Object.fromEntries(modules.map((m) => [m.name, m.bits])));
  });

  it('random and inverse allocations spend the same bit-widths on other modules', () => {
    const bits = (allocation: string): number[] =>
      (calibrateLiu2021(config, params, calib, options(5, { mixedPrecision: true, candidateBits: [4, 5, 6, 7, 8], allocation, candidates: 4, maxIterations: 1 })).report.modules ?? []).map((m) => m.bits);
    const nuclear = bits('nuclear');
    const sorted = (b: number[]): number[] => [...b].sort((x, y) => x - y);
    // Every module here has 16,384 weights, so permuting the Ω rows permutes the answer.
    const inverse = bits('inverse');
    expect(sorted(bits('random'))).toEqual(sorted(nuclear));
    expect(sorted(inverse)).toEqual(sorted(nuclear));
    // The module the nuclear allocation gives the most bits gets the fewest under 'inverse'.
    expect(inverse[nuclear.indexOf(Math.max(...nuclear))]).toBe(Math.min(...nuclear));
  });

  it('refuses bad options in one line', () => {
    expect(refusal(() => parseOptions(options(4, { mixedPrecision: true, candidateBits: [6, 7] }))))
      .toBe('liu2021 options: candidateBits 6,7 cannot meet a mean of wbits = 4 bits (the narrowest candidate is 6)');
    expect(refusal(() => parseOptions(options(4, { allocation: 'greedy' })))).toMatch(/^liu2021 options: allocation must be one of nuclear, random, inverse, got "greedy"$/);
    expect(refusal(() => parseOptions(options(4, { ranknig: false })))).toMatch(/unknown option ranknig/);
    expect(refusal(() => parseOptions(options(4, { candidateBits: [1, 4] })))).toMatch(/candidateBits must be a non-empty list of integers in 2…16/);
    expect(refusal(() => parseOptions(options(4, { rankingWeight: -1 })))).toBe('liu2021 options: rankingWeight must be a number ≥ 0, got -1');
  });

  it('defaults to the paper: candidate bits wbits ± 2 within 2…8, γ = 0.1, 100-point grids, 20 rounds', () => {
    expect(parseOptions(options(4)).candidateBits).toEqual([2, 3, 4, 5, 6]);
    expect(parseOptions(options(8)).candidateBits).toEqual([6, 7, 8]);
    expect(parseOptions(options(3)).candidateBits).toEqual([2, 3, 4, 5]);
    expect(parseOptions(options(4, { candidateBits: '6, 3,4' })).candidateBits).toEqual([3, 4, 6]);
    expect(parseOptions(options(4, { candidateBits: 4 })).candidateBits).toEqual([4]);
    expect(parseOptions({ wbits: 4, abits: 4, seed: 0 })).toMatchObject({ ranking: true, biasCorrection: true, mixedPrecision: false, rankingWeight: 0.1, candidates: 100, maxIterations: 20 });
  });
});
