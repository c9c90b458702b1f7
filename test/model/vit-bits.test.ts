/**
 * Bit-exactness guard for the float ViT: speed work on src/model/ must not change a single bit of the
 * logits or of any gradient, because trained checkpoints ship with "the same seed gives the same
 * weights bit for bit". The SHA-256 constants below were computed from commit 90fb0ba (the model code
 * before any of the speed work), with its matmul.ts pointed at gemmReference — the definition the
 * wasm kernel is checked against bit for bit on first use — so they pin the float32 semantics, not a
 * particular kernel build.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { paramShapes, type ViTConfig, type ViTParams } from '../../src/model/config.js';
import { geluBackward, geluBackwardFromSlope, geluForward, geluForwardKeepSlope } from '../../src/model/layers/gelu.js';
import { softmaxCrossEntropy } from '../../src/model/layers/softmax-cross-entropy.js';
import { createRng } from '../../src/model/random.js';
import { initViT, vitBackward, vitForward, zerosLike } from '../../src/model/vit.js';

/** The 28×28 Fashion-MNIST model that `vitsim train` builds by default (50 tokens, D 64, hidden 128). */
const fashion: ViTConfig = {
  imgSize: 28, patchSize: 4, inChans: 1, embedDim: 64, depth: 4, numHeads: 4, mlpRatio: 2, numClasses: 10,
  mean: [0.286], std: [0.353],
};

/** Odd sizes everywhere (5 tokens, head dim 6, 3 classes), so ragged kernel edges are exercised too. */
const small: ViTConfig = {
  imgSize: 8, patchSize: 4, inChans: 2, embedDim: 12, depth: 2, numHeads: 2, mlpRatio: 2.5, numClasses: 3,
  mean: [0.5, 0.4], std: [0.25, 0.3],
};

interface Fingerprint {
  logits: string;
  grads: string;
}

/**
 * Forward (keeping activations), then a forward without keep on other images — as an evaluation
 * between a training step's forward and backward would — then the backward of the first forward.
 * Parameters are moved away from initialisation so every LayerNorm weight and bias carries gradient.
 */
function fingerprint(config: ViTConfig, batch: number, seed: number): Fingerprint {
  const params = initViT(config, seed);
  const rng = createRng(seed + 1);
  for (const tensor of params.values()) for (let i = 0; i < tensor.data.length; i++) tensor.data[i] += 0.1 * rng.normal();
  const imageSize = config.inChans * config.imgSize * config.imgSize;
  const images = Float32Array.from({ length: batch * imageSize }, () => rng.normal());
  const others = Float32Array.from({ length: (batch + 1) * imageSize }, () => rng.normal());
  const labels = Array.from({ length: batch }, (_, b) => (b * 7 + seed) % config.numClasses);

  const { logits, activations } = vitForward(config, params, images, batch, true);
  const logitsHash = sha256([logits]);
  vitForward(config, params, others, batch + 1, false);
  const { dLogits } = softmaxCrossEntropy(logits, labels, batch, config.numClasses);
  const grads: ViTParams = zerosLike(params);
  vitBackward(config, params, activations!, dLogits, grads);
  expect(sha256([logits])).toBe(logitsHash);
  return { logits: logitsHash, grads: sha256([...paramShapes(config).keys()].map((name) => grads.get(name)!.data)) };
}

function sha256(tensors: Float32Array[]): string {
  const hash = createHash('sha256');
  for (const t of tensors) hash.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  return hash.digest('hex');
}

describe('ViT bits', () => {
  it('the Fashion-MNIST ViT (batch 5) gives the same logits and gradients, bit for bit, as commit 90fb0ba', () => {
    expect(fingerprint(fashion, 5, 11)).toEqual({
      logits: '618a9855517d89dee99f3db0fd6b561205085c43beae83b33c13a596543827e0',
      grads: 'b64276bbefe5d6759a9d30f2619200d90cb1a19b4aa932b6570e8e5374061963',
    });
  });

  it('a ViT with odd sizes (batch 3) gives the same logits and gradients, bit for bit, as commit 90fb0ba', () => {
    expect(fingerprint(small, 3, 5)).toEqual({
      logits: '4650943d1c8c446aecccc77973d8612b6fca35cf33900ef23a83bf10441f9dcc',
      grads: '66781cb9771432b10df9fc222aad034246945a32a8e55d4a46b6e10c512479ec',
    });
  });
});

describe('GELU with a kept slope', () => {
  it('gives geluForward’s values and geluBackward’s gradients bit for bit, table edges, infinities, NaN and signed zeros included', () => {
    const rng = createRng(17);
    // 6·√2 is where the erf table ends; its float32 neighbours fall on either side.
    const edge = Math.fround(6 * Math.SQRT2);
    const special = [0, -0, edge, -edge, Math.fround(edge * (1 + 2 ** -23)), -Math.fround(edge * (1 + 2 ** -23)),
      Math.fround(edge * (1 - 2 ** -23)), -Math.fround(edge * (1 - 2 ** -23)), Infinity, -Infinity, NaN, 1e-40, -1e-40, 3e38, -3e38];
    const n = 200_000;
    const x = Float32Array.from({ length: n }, (_, i) => (i < special.length ? special[i] : rng.normal() * (i % 3 === 0 ? 4 : 1)));
    // dy includes signed zeros and negatives, where a slope of 0 would turn +0 into −0.
    const dy = Float32Array.from({ length: n }, (_, i) => (i % 11 === 0 ? -0 : i % 13 === 0 ? 0 : rng.normal()));
    const y = new Float32Array(n);
    const dx = new Float32Array(n);
    geluForward(x, y, n);
    geluBackward(x, dy, dx, n);
    const yKept = new Float32Array(n);
    const slope = new Float64Array(n);
    const dxKept = new Float32Array(n);
    geluForwardKeepSlope(x, yKept, slope, n);
    geluBackwardFromSlope(slope, dy, dxKept, n);
    expect(firstDifference(yKept, y)).toBe(-1);
    expect(firstDifference(dxKept, dx)).toBe(-1);
  });
});

/** Index of the first element whose bits differ (Object.is tells −0 from +0), or −1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}
