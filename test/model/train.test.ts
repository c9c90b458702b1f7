import { describe, expect, it } from 'vitest';
import { paramShapes, type ViTConfig } from '../../src/model/config.js';
import { loadDataset } from '../../src/model/datasets.js';
import { createRng } from '../../src/model/random.js';
import {
  DEFAULT_ADAM,
  adamWStep,
  augmentImage,
  decays,
  flatLayout,
  flattenParams,
  inProcessEngine,
  learningRate,
  shardRanges,
  trainViT,
  type GradientEngine,
  type TrainOptions,
} from '../../src/model/train.js';
import { workerEngine } from '../../src/model/train-workers.js';

// Small enough that a few epochs on a few hundred images take seconds.
const config: ViTConfig = {
  imgSize: 28,
  patchSize: 7,
  inChans: 1,
  embedDim: 32,
  depth: 2,
  numHeads: 2,
  mlpRatio: 2,
  numClasses: 10,
  mean: [0.2861],
  std: [0.3528],
};

const options: TrainOptions = {
  seed: 7,
  epochs: 2,
  batchSize: 40,
  lr: 3e-3,
  minLr: 1e-4,
  warmupEpochs: 1,
  weightDecay: 0.05,
  ...DEFAULT_ADAM,
  augment: 'crop-flip',
  cropPadding: 2,
  shards: 4,
};

const train = loadDataset('fashion-mnist', 'train', 400);
const test = loadDataset('fashion-mnist', 'test', 100);

async function trainedBits(engine: GradientEngine, o: TrainOptions = options): Promise<{ bits: Uint32Array; losses: number[] }> {
  try {
    const result = await trainViT(config, { train, test }, o, engine);
    const flat = flattenParams(flatLayout(config), result.params);
    return { bits: new Uint32Array(flat.buffer), losses: result.epochs.map((e) => e.trainLoss) };
  } finally {
    await engine.close();
  }
}

describe('trainViT', () => {
  it('lowers the training loss on 400 Fashion-MNIST images within four epochs', async () => {
    const { losses } = await trainedBits(inProcessEngine(config), { ...options, augment: 'none', epochs: 4 });
    expect(losses[0]).toBeGreaterThan(1.9);
    expect(losses[losses.length - 1]).toBeLessThan(0.8 * losses[0]);
  });

  it('gives the same weights bit for bit from the same seed, and other weights from another seed', async () => {
    const a = await trainedBits(inProcessEngine(config));
    const b = await trainedBits(inProcessEngine(config));
    expect(b.bits).toEqual(a.bits);
    const c = await trainedBits(inProcessEngine(config), { ...options, seed: 8 });
    expect(c.bits).not.toEqual(a.bits);
  });

  it('gives the same weights bit for bit on 1 and on 2 worker threads (same shards)', async () => {
    const one = await trainedBits(workerEngine(config, 1));
    const two = await trainedBits(workerEngine(config, 2));
    expect(two.bits).toEqual(one.bits);
    // Three workers over four shards: uneven, still the same sums in the same order.
    const three = await trainedBits(workerEngine(config, 3), { ...options, epochs: 1 });
    const oneShort = await trainedBits(workerEngine(config, 1), { ...options, epochs: 1 });
    expect(three.bits).toEqual(oneShort.bits);
  });
});

describe('optimiser', () => {
  it('decays weight matrices only, as timm: not biases, norms, pos_embed or cls_token', () => {
    const layout = flatLayout(config);
    const mask = decays(layout);
    const decayed = layout.segments.filter((s) => mask[s.offset] === 1).map((s) => s.name);
    expect(decayed).toEqual([
      'patch_embed.proj.weight',
      ...[0, 1].flatMap((i) => ['attn.qkv.weight', 'attn.proj.weight', 'mlp.fc1.weight', 'mlp.fc2.weight'].map((n) => `blocks.${i}.${n}`)),
      'head.weight',
    ]);
    for (const s of layout.segments) expect(mask.subarray(s.offset, s.offset + s.length).every((v) => v === mask[s.offset])).toBe(true);
    expect(layout.size).toBe([...paramShapes(config).values()].reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0));
  });

  it('moves every value by lr on AdamW first step (bias-corrected m/√v = ±1), after decaying weights', () => {
    const params = Float32Array.from([1, 1, -2, 0.5]);
    const grad = Float32Array.from([0.3, -0.001, 5, 0]);
    const decay = Uint8Array.from([1, 0, 0, 1]);
    const lr = 0.01;
    adamWStep(params, grad, new Float32Array(4), new Float32Array(4), decay, lr, 1, { ...DEFAULT_ADAM, weightDecay: 0.1 });
    expect(params[0]).toBeCloseTo(1 * (1 - lr * 0.1) - lr, 6);
    expect(params[1]).toBeCloseTo(1 + lr, 4);
    expect(params[2]).toBeCloseTo(-2 - lr, 6);
    expect(params[3]).toBeCloseTo(0.5 * (1 - lr * 0.1), 7);
  });

  it('warms the learning rate up linearly to its peak, then follows a half cosine down to minLr', () => {
    const o = { lr: 1e-3, minLr: 1e-5 };
    expect(learningRate(0, 100, 10, o)).toBeCloseTo(1e-4, 12);
    expect(learningRate(9, 100, 10, o)).toBeCloseTo(1e-3, 12);
    expect(learningRate(10, 100, 10, o)).toBeCloseTo(1e-3, 12);
    expect(learningRate(55, 100, 10, o)).toBeCloseTo((1e-3 + 1e-5) / 2, 12);
    expect(learningRate(100, 100, 10, o)).toBeCloseTo(1e-5, 12);
    expect(learningRate(0, 100, 0, o)).toBeCloseTo(1e-3, 12);
  });
});

describe('batches', () => {
  it('cuts a batch into contiguous shards that cover it, dropping empty ones', () => {
    expect(shardRanges(128, 4)).toEqual([[0, 32], [32, 64], [64, 96], [96, 128]]);
    expect(shardRanges(10, 4)).toEqual([[0, 2], [2, 5], [5, 7], [7, 10]]);
    expect(shardRanges(3, 4)).toEqual([[0, 1], [1, 2], [2, 3]]);
  });

  it('flips an image left to right and shifts it by the crop offset, filling with zeros', () => {
    const side = 28;
    const source = Float32Array.from({ length: side * side }, (_, i) => i + 1);
    const copy = new Float32Array(side * side);
    augmentImage(source, copy, 'none', 2, createRng(1));
    expect(copy).toEqual(source);
    // With no padding the crop is the image itself; over many draws about half are mirrored.
    let mirrored = 0;
    const rng = createRng(2);
    for (let n = 0; n < 200; n++) {
      augmentImage(source, copy, 'crop-flip', 0, rng);
      if (copy[0] === source[side - 1]) {
        mirrored++;
        const mirror = source.map((_, i) => source[i - (i % side) + side - 1 - (i % side)]);
        expect(copy).toEqual(mirror);
      } else {
        expect(copy).toEqual(source);
      }
    }
    expect(mirrored).toBeGreaterThan(70);
    expect(mirrored).toBeLessThan(130);
    // A crop moves the whole image by one offset of at most `pad` pixels per axis, zeros elsewhere.
    const shiftRng = createRng(3);
    for (let n = 0; n < 50; n++) {
      augmentImage(source, copy, 'crop', 2, shiftRng);
      const offsets = new Set<string>();
      copy.forEach((v, i) => {
        if (v === 0) return;
        const [y, x] = [Math.floor(i / side), i % side];
        const [sy, sx] = [Math.floor((v - 1) / side), (v - 1) % side];
        offsets.add(`${sy - y},${sx - x}`);
      });
      expect(offsets.size).toBe(1);
      const [dy, dx] = [...offsets][0].split(',').map(Number);
      expect(Math.abs(dy)).toBeLessThanOrEqual(2);
      expect(Math.abs(dx)).toBeLessThanOrEqual(2);
      expect(copy.filter((v) => v !== 0).length).toBe((side - Math.abs(dy)) * (side - Math.abs(dx)));
    }
  });
});
