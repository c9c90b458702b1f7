import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../../src/model/checkpoint.js';
import { loadDataset } from '../../../src/model/datasets.js';
import { fakeQuantLogits } from '../../../src/quant/fakequant.js';
import { statsqDistanceToThreshold } from '../../../src/quant/qat/fake-quantizers.js';
import { createQatModel, qatForward, quantizerTensors, type QatMethod } from '../../../src/quant/qat/model.js';
import { runQat } from '../../../src/quant/qat/run.js';
import { blockWeightRegions, initQuantizers, trainQat, type QatOptions } from '../../../src/quant/qat/train.js';
import { encodeQuantizedModel, parseQuantizedModel } from '../../../src/quant/qmodel-file.js';

const MODEL = 'workloads/models/vit-fashion-mnist.safetensors';
const { config, params } = loadCheckpoint(MODEL);
const train = loadDataset('fashion-mnist', 'train', 64);

function options(method: QatMethod, over: Partial<QatOptions> = {}): QatOptions {
  return {
    method, wbits: 2, abits: 2, seed: 5, epochs: 1, batchSize: 32, lr: 1e-3, minLr: 1e-5, warmupFraction: 0, weightDecay: 0, flip: true,
    calibrationImages: 32, cga: { enabled: method === 'ofq', fraction: 0, boundaryRange: 0.005 }, attention: 'standard', ...over,
  };
}

describe('QAT training', () => {
  it('one step on 64 images for each method gives a valid quantized model that survives the file and computes what the QAT forward computes', () => {
    for (const method of ['lsq', 'n2uq', 'ofq'] as const) {
      const run = runQat(method, config, params, train, { wbits: 2, abits: 2, seed: 1, extra: { batchSize: 64, calibrationImages: 64 } });
      expect(run.result.totalSteps).toBe(1);
      expect(Number.isFinite(run.result.finalLoss)).toBe(true);
      const q = parseQuantizedModel(encodeQuantizedModel(run.quantized), 'memory');
      const kinds = new Set([...q.ops.values()].flatMap((op) => (op.kind === 'linear' ? [op.input.kind, op.weight.kind] : [op.a.kind, op.b.kind])));
      if (method === 'n2uq') expect(kinds.has('threshold') && kinds.has('odd-level')).toBe(true);
      if (method === 'ofq') expect(kinds.has('odd-level') && !kinds.has('threshold')).toBe(true);
      if (method === 'lsq') expect(kinds.has('odd-level') || kinds.has('threshold')).toBe(false);
      // The assembled model (residual quantizers included) predicts what the training forward predicts.
      const images = train.pixels.subarray(0, 16 * 784);
      const fake = fakeQuantLogits(q, images, 16);
      const { logits } = qatForward(run.result.model, images, 16);
      let agree = 0;
      for (let b = 0; b < 16; b++) if (argmax(fake, b) === argmax(logits, b)) agree++;
      expect(agree, method).toBeGreaterThanOrEqual(15);
    }
  });

  it('is deterministic for a seed: two runs give the same weights and quantizer parameters bit for bit', () => {
    const a = trainQat(config, params, train, options('n2uq'));
    const b = trainQat(config, params, train, options('n2uq'));
    expect(Buffer.from(a.model.flat.buffer).equals(Buffer.from(b.model.flat.buffer))).toBe(true);
    const qa = quantizerTensors(a.model);
    const qb = quantizerTensors(b.model);
    qa.forEach((t, i) => expect([...t]).toEqual([...qb[i]]));
    const c = trainQat(config, params, train, options('n2uq', { seed: 6 }));
    expect(Buffer.from(a.model.flat.buffer).equals(Buffer.from(c.model.flat.buffer))).toBe(false);
  });

  it('CGA leaves every weight farther than the boundary range from a rounding threshold untouched, and trains the rest', () => {
    // Every step in the CGA window (fraction 1): only the weights inside the band may move.
    const br = 0.05;
    const run = trainQat(config, params, train, options('ofq', { cga: { enabled: true, fraction: 1, boundaryRange: br }, minLr: 1e-3 }));
    const start = createQatModel(config, params, 'ofq', 2, 2);
    let moved = 0;
    let farMoved = 0;
    for (const r of blockWeightRegions(start)) {
      const before = start.flat.subarray(r.offset, r.offset + r.mask.length);
      const after = run.model.flat.subarray(r.offset, r.offset + r.mask.length);
      const distance = new Float32Array(before.length);
      statsqDistanceToThreshold(before, distance, r.rows, r.cols, r.bits);
      for (let i = 0; i < before.length; i++) {
        if (after[i] === before[i]) continue;
        moved++;
        // A margin over br: the row statistic drifts a little as the in-band weights move.
        if (distance[i] > 2 * br) farMoved++;
      }
    }
    expect(farMoved).toBe(0);
    expect(moved).toBeGreaterThan(0);
    expect(run.frozenFraction).toBeGreaterThan(0.5);
  });

  it('initialises N2UQ thresholds as the LSQ uniform quantizer it starts from', () => {
    const model = createQatModel(config, params, 'n2uq', 3, 3);
    initQuantizers(model, train.pixels.subarray(0, 32 * 784), 32);
    const q = model.acts.get('blocks.0.mlp.fc1.input');
    if (q?.kind !== 'threshold') throw new Error('expected a threshold quantizer');
    expect(q.start[0]).toBeCloseTo(-4 * q.step[0], 6);
    for (const a of q.intervals) expect(a).toBeCloseTo(q.step[0], 6);
    expect(q.offset[0]).toBeCloseTo(q.start[0], 6);
  });
});

function argmax(logits: Float32Array, row: number): number {
  let best = 0;
  for (let c = 1; c < 10; c++) if (logits[row * 10 + c] > logits[row * 10 + best]) best = c;
  return best;
}
