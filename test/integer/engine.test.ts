import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Dataflow } from '../../src/hw/arch.js';
import { runRegisterArray } from '../../src/hw/register-array.js';
import { accumulate, AccumulatorOverflow, OverflowCounter } from '../../src/integer/accumulator.js';
import { compileProgram } from '../../src/integer/compile.js';
import { integerForward } from '../../src/integer/engine.js';
import { evaluateInteger } from '../../src/integer/evaluate.js';
import { IVIT_NONLINEARS } from '../../src/integer/nonlinear-float.js';
import { fakeQuantLogits } from '../../src/quant/fakequant.js';
import { numTokens } from '../../src/model/config.js';
import type { QuantizedViT, QuantLinear, UniformQuant } from '../../src/quant/spec.js';
import { createRng } from '../../src/model/random.js';
import { argmaxRows, testImages, uniformW8A8, variantModel } from './fixture.js';

const IMAGES = 200;

const integerRuns = new Map<QuantizedViT, { logits: Float32Array; overflows: number }>();

function agreement(q: QuantizedViT, count: number, injected: boolean): { agree: number; maxDiff: number; overflows: number } {
  const images = testImages(count);
  let run = integerRuns.get(q);
  if (!run) {
    run = integerForward(compileProgram(q), images.pixels, images.count);
    integerRuns.set(q, run);
  }
  const { logits, overflows } = run;
  const fake = fakeQuantLogits(q, images.pixels, images.count, 50, injected ? { nonlinears: IVIT_NONLINEARS } : {});
  const a = argmaxRows(logits, 10);
  const b = argmaxRows(fake, 10);
  let agree = 0;
  let maxDiff = 0;
  for (let i = 0; i < images.count; i++) if (a[i] === b[i]) agree++;
  for (let i = 0; i < logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i] - fake[i]));
  return { agree: agree / images.count, maxDiff, overflows };
}

describe('integer engine', () => {
  it('agrees with fake-quant on top-1 for ≥ 99 % of 200 test images at W8A8, logits within the documented 0.6', () => {
    const { agree, maxDiff, overflows } = agreement(uniformW8A8(), IMAGES, false);
    expect(agree).toBeGreaterThanOrEqual(0.99);
    expect(maxDiff).toBeLessThan(0.6);
    expect(overflows).toBe(0);
  });

  it('is closer still to fake-quant run with its own float-domain nonlinears', () => {
    const plain = agreement(uniformW8A8(), IMAGES, false);
    const injected = agreement(uniformW8A8(), IMAGES, true);
    expect(injected.maxDiff).toBeLessThan(plain.maxDiff);
    expect(injected.maxDiff).toBeLessThan(0.3);
  });

  it('gives the same bits whatever the batch and the number of worker threads', async () => {
    const q = uniformW8A8();
    const images = testImages(100);
    const one = await evaluateInteger(q, images, { workers: 1, batch: 50, logits: true, stats: true });
    const two = await evaluateInteger(q, images, { workers: 2, batch: 7, logits: true, stats: true });
    const again = await evaluateInteger(q, images, { workers: 2, batch: 7, logits: true });
    expect(Buffer.from((two.logits as Float32Array).buffer).equals(Buffer.from((one.logits as Float32Array).buffer))).toBe(true);
    expect(Buffer.from((again.logits as Float32Array).buffer).equals(Buffer.from((two.logits as Float32Array).buffer))).toBe(true);
    expect([...two.predictions]).toEqual([...one.predictions]);
    expect([...(two.stats ?? new Map())]).toEqual([...(one.stats ?? new Map())]);
  });

  it('saturates and counts accumulator overflows with a narrow accumulator, or refuses in error mode', async () => {
    const q = uniformW8A8();
    const images = testImages(20);
    const narrow = await evaluateInteger(q, images, { accBits: 16 });
    expect(narrow.overflows).toBeGreaterThan(0);
    await expect(evaluateInteger(q, images, { accBits: 16, overflow: 'error' })).rejects.toThrow(AccumulatorOverflow);
    const wide = await evaluateInteger(q, images, { accBits: 32 });
    expect(wide.overflows).toBe(0);
  });

  it('runs twin-uniform P and fc2 inputs, a threshold fc1 input and NoisyQuant noise, still agreeing with fake-quant', () => {
    const q = variantModel(uniformW8A8());
    const { agree, overflows } = agreement(q, 100, false);
    expect(agree).toBeGreaterThanOrEqual(0.97);
    expect(overflows).toBe(0);
  });
});

describe('per-token scales', () => {
  it('OFQ-style per-token input scales on qkv and fc1 run through per-token requantizers and biases, agreeing with fake-quant', () => {
    const base = uniformW8A8();
    const t = numTokens(base.config);
    const ops = new Map(base.ops);
    for (let i = 0; i < base.config.depth; i++) {
      for (const name of [`blocks.${i}.attn.qkv`, `blocks.${i}.mlp.fc1`]) {
        const op = ops.get(name) as QuantLinear;
        const input = op.input as UniformQuant;
        ops.set(name, { ...op, input: { ...input, scale: Float32Array.from({ length: t }, (_, k) => input.scale[0] * (1 + 0.2 * Math.sin(k))) } });
      }
    }
    const { agree, overflows } = agreement({ ...base, ops }, 100, false);
    expect(agree).toBeGreaterThanOrEqual(0.98);
    expect(overflows).toBe(0);
  });
});

describe('integer GEMMs on the register-level array', () => {
  it('for small shapes the register-level systolic array computes the same accumulators as the engine', () => {
    const program = compileProgram(uniformW8A8());
    const block = program.blocks[0];
    if (block.kind !== 'standard') throw new Error('the W8A8 fixture has standard attention');
    const qkv = block.qkv;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom<Dataflow>('os', 'ws', 'is'), fc.integer(),
        (m, k, n, rows, cols, dataflow, seed) => {
          const rng = createRng(seed);
          // Activation codes in the int8 range, weights and bias from the compiled program.
          const a = Int16Array.from({ length: m * k }, () => Math.floor(rng.nextFloat() * 256) - 128);
          const wT = new Int16Array(n * k);
          for (let o = 0; o < n; o++) for (let i = 0; i < k; i++) wT[o * k + i] = qkv.weight[o * qkv.ins + i];
          const bias = qkv.bias.slice(0, n);
          const engine = new Float64Array(m * n);
          accumulate(a, wT, engine, { m, k, n, transB: true }, program.accumulator, new OverflowCounter(), 'qkv', bias);
          const w = new Int16Array(k * n);
          for (let o = 0; o < n; o++) for (let i = 0; i < k; i++) w[i * n + o] = wT[o * k + i];
          const array = runRegisterArray({ m, k, n }, a, w, { rows, cols, dataflow });
          for (let i = 0; i < m * n; i++) expect(array.out[i] + bias[i % n]).toBe(engine[i]);
        },
      ),
      { numRuns: 60 },
    );
  });
});
