import { beforeAll, describe, expect, it } from 'vitest';
import { compileProgram, type QkrBlock } from '../../src/integer/compile.js';
import { integerForward } from '../../src/integer/engine.js';
import { evaluateInteger } from '../../src/integer/evaluate.js';
import { shiftmaxConstants } from '../../src/integer/ivit.js';
import { IVIT_NONLINEARS } from '../../src/integer/nonlinear-float.js';
import { operandStats } from '../../src/integer/stats.js';
import { headDim, numTokens } from '../../src/model/config.js';
import { loadDataset, type ImageSet } from '../../src/model/datasets.js';
import { createRng } from '../../src/model/random.js';
import { quantizedViTProblem } from '../../src/quant/validate.js';
import { fakeQuantLogits } from '../../src/quant/fakequant.js';
import type { ActQuant, QuantizedViT, QuantLinear, QuantMatmul, UniformQuant } from '../../src/quant/spec.js';
import { argmaxRows, qkrModel, testImages, uniformW8A8 } from './fixture.js';

/** Top-1 agreement and max |Δlogit| of the integer engine against fake-quant (with the engine's float-domain nonlinears when `injected`). */
function agreement(q: QuantizedViT, images: ImageSet, injected = false): { agree: number; maxDiff: number; overflows: number } {
  const run = integerForward(compileProgram(q), images.pixels, images.count);
  const fake = fakeQuantLogits(q, images.pixels, images.count, 50, injected ? { nonlinears: IVIT_NONLINEARS } : {});
  const a = argmaxRows(run.logits, 10);
  const b = argmaxRows(fake, 10);
  let maxDiff = 0;
  for (let i = 0; i < fake.length; i++) maxDiff = Math.max(maxDiff, Math.abs(run.logits[i] - fake[i]));
  return { agree: a.filter((p, i) => p === b[i]).length / images.count, maxDiff, overflows: run.overflows };
}

/** q with `x` as the X̂ quantizer of every block (attn.v.input = attn.qkr.input = qk.a). */
function withX(q: QuantizedViT, x: (block: number, old: UniformQuant) => ActQuant): QuantizedViT {
  const ops = new Map(q.ops);
  for (let i = 0; i < q.config.depth; i++) {
    const b = `blocks.${i}.attn.`;
    const v = ops.get(b + 'v') as QuantLinear;
    const input = x(i, v.input as UniformQuant);
    ops.set(b + 'v', { ...v, input });
    ops.set(b + 'qkr', { ...(ops.get(b + 'qkr') as QuantLinear), input });
    ops.set(b + 'qk', { ...(ops.get(b + 'qk') as QuantMatmul), a: input });
  }
  return { ...q, ops };
}

describe('integer engine on QKR attention', () => {
  let q: QuantizedViT;
  let images: ImageSet;

  beforeAll(() => {
    q = qkrModel(uniformW8A8(), loadDataset('fashion-mnist', 'train', 32).pixels, 32);
    images = testImages(300);
  });

  it('agrees with fake-quant on top-1 for ≥ 97 % of 300 test images, logits within 0.6, no overflow', () => {
    const { agree, maxDiff, overflows } = agreement(q, images);
    // Measured: 99.33 % (2 of 300 differ), max |Δlogit| 0.342 (99th percentile 0.17, median 0.036; logits span ±10.7).
    expect(agree).toBeGreaterThanOrEqual(0.97);
    expect(maxDiff).toBeLessThan(0.6);
    expect(overflows).toBe(0);
  });

  it('compiles a QKR program: X unit, attn.v and attn.qkr stages on the same X codes, U of H·C channels, one softmax set for per-tensor X', () => {
    const program = compileProgram(q);
    const block = program.blocks[2] as QkrBlock;
    expect(block.kind).toBe('qkr');
    expect(block.attnV.input).toBe(block.norm1);
    expect(block.qkr.input).toBe(block.norm1);
    expect([block.attnV.outs, block.attnV.ins, block.qkr.outs, block.qkr.ins]).toEqual([64, 64, 256, 64]);
    expect(block.u.channels).toBe(256);
    expect(block.softmax).toHaveLength(numTokens(q.config));
    expect(new Set(block.softmax).size).toBe(1);
    expect(program.weightStats.has('blocks.2.attn.qkr')).toBe(true);
  });

  it('gives the same bits for batch 1 and batch 7, and through two worker threads with the same operand tallies', async () => {
    const set = testImages(14);
    const program = compileProgram(q);
    const seven = new Float32Array(14 * 10);
    for (let s = 0; s < 14; s += 7) seven.set(integerForward(program, set.pixels.subarray(s * 784, (s + 7) * 784), 7).logits, s * 10);
    const one = new Float32Array(14 * 10);
    for (let s = 0; s < 14; s++) one.set(integerForward(program, set.pixels.subarray(s * 784, (s + 1) * 784), 1).logits, s * 10);
    expect(Buffer.from(one.buffer).equals(Buffer.from(seven.buffer))).toBe(true);
    const single = await evaluateInteger(q, set, { workers: 1, batch: 7, logits: true, stats: true });
    const two = await evaluateInteger(q, set, { workers: 2, batch: 3, logits: true, stats: true });
    expect(Buffer.from((single.logits as Float32Array).buffer).equals(Buffer.from(seven.buffer))).toBe(true);
    expect(Buffer.from((two.logits as Float32Array).buffer).equals(Buffer.from(seven.buffer))).toBe(true);
    expect([...(two.stats ?? new Map())]).toEqual([...(single.stats ?? new Map())]);
  });

  it('tallies X under attn.v, attn.qkr and qk a, and U [T, H·C] under qk b', () => {
    const set = testImages(5);
    const program = compileProgram(q);
    const { stats } = integerForward(program, set.pixels, 5, { stats: true });
    const tallies = stats ?? new Map();
    const t = numTokens(q.config);
    const x = tallies.get('blocks.1.attn.v')?.a;
    expect(x?.count).toBe(5 * t * 64);
    expect(x?.sumAbs).toBeGreaterThan(0);
    expect(tallies.get('blocks.1.attn.qkr')?.a).toEqual(x);
    expect(tallies.get('blocks.1.attn.qk')?.a).toEqual(x);
    expect(tallies.get('blocks.1.attn.qk')?.b?.count).toBe(5 * t * 4 * 64);
    expect(tallies.has('blocks.1.attn.qkv')).toBe(false);
    const measured = operandStats(tallies, program.weightStats);
    expect(measured.get('blocks.1.attn.qkr')?.b?.meanAbs).toBeGreaterThan(0);
    expect(measured.get('blocks.1.attn.qk')?.b?.zeroFraction).toBeLessThan(1);
  });

  it('counts score accumulator overflows under blocks.N.attn.qk', () => {
    // A 32× finer U step makes the scores 32× larger (up to U's saturation): past 16 bits, not 32.
    const ops = new Map(q.ops);
    for (let i = 0; i < q.config.depth; i++) {
      const qk = ops.get(`blocks.${i}.attn.qk`) as QuantMatmul;
      const u = qk.b as UniformQuant;
      ops.set(qk.name, { ...qk, b: { ...u, scale: Float32Array.of(u.scale[0] / 32) } });
    }
    const pixels = testImages(4).pixels;
    const narrow = integerForward(compileProgram({ ...q, ops }, { accBits: 16 }), pixels, 4);
    for (let i = 0; i < q.config.depth; i++) expect(narrow.overflowsPerOp.get(`blocks.${i}.attn.qk`)).toBeGreaterThan(0);
    expect(integerForward(compileProgram({ ...q, ops }), pixels, 4).overflows).toBe(0);
  });

  it('runs OFQ-style per-token X steps with a learned pre-bias: softmax constants per score row at s_X[t]·s_U·d^−½, agreeing with fake-quant', () => {
    const t = numTokens(q.config);
    const rng = createRng(5);
    const perToken = withX(q, (_, old) => {
      const scale = Float32Array.from({ length: t }, (_, k) => old.scale[0] * (1 + 0.2 * Math.sin(k)));
      const preAdd = Float32Array.from({ length: 64 }, () => (rng.nextFloat() - 0.5) * 0.2);
      return { ...old, scale, addend: { kind: 'learned-bias', preAdd, postAdd: new Float32Array(64) } };
    });
    expect(quantizedViTProblem(perToken)).toBeUndefined();
    const block = compileProgram(perToken).blocks[1] as QkrBlock;
    const xStep = ((perToken.ops.get('blocks.1.attn.v') as QuantLinear).input as UniformQuant).scale;
    const uStep = ((perToken.ops.get('blocks.1.attn.qk') as QuantMatmul).b as UniformQuant).scale[0];
    for (let k = 0; k < t; k++) expect(block.softmax[k]).toEqual({ set: 'ivit', c: shiftmaxConstants((xStep[k] * uStep) / Math.sqrt(headDim(q.config)), t) });
    expect(new Set(block.softmax).size).toBe(new Set(xStep).size);
    // Measured on 100 images: 99 % top-1, max |Δlogit| 0.133 against fake-quant with the I-ViT float-domain
    // nonlinears (0.312 when every row takes row 0's constants).
    const { agree, maxDiff, overflows } = agreement(perToken, testImages(100), true);
    expect(agree).toBeGreaterThanOrEqual(0.97);
    expect(maxDiff).toBeLessThan(0.25);
    expect(overflows).toBe(0);
  });

  it('refuses threshold or twin quantizers and non-zero zero points on X̂ and U at compile time', () => {
    const threshold = withX(q, (_, old) => ({
      kind: 'threshold', bits: 8, thresholds: Float64Array.from({ length: 255 }, (_, j) => (j - 127.5) * old.scale[0]), step: old.scale[0], offset: -128 * old.scale[0],
    }));
    expect(() => compileProgram(threshold)).toThrow(/blocks\.0\.attn\.v\.input: QKR's X̂ must be a uniform quantizer with zero point 0 for the integer engine, got threshold/);
    const shifted = withX(q, (_, old) => ({ ...old, zeroPoint: 3 }));
    expect(() => compileProgram(shifted)).toThrow(/got zero point 3/);
    const ops = new Map(q.ops);
    const qk = ops.get('blocks.3.attn.qk') as QuantMatmul;
    ops.set('blocks.3.attn.qk', { ...qk, b: { kind: 'twin-gelu', bits: 8, negScale: 0.01, posShift: 2 } });
    expect(() => compileProgram({ ...q, ops })).toThrow(/blocks\.3\.attn\.qk\.b: QKR's U must be a per-tensor uniform quantizer with zero point 0 for the integer engine, got twin-gelu/);
  });
});
