/**
 * The whole ViT: its gradient against finite differences, and its semantics against timm's
 * `VisionTransformer`. No PyTorch is available offline, so "same logits as timm" is pinned down by
 * (a) a float64 reference forward written in this file straight from timm's definition, with its own
 * index arithmetic (direct convolution, explicit reshape(B, N, 3, H, d)), and (b) hand-computable
 * cases that would fail for each plausible convention mix-up (q/k/v or head order, score scale,
 * conv weight flattening, patch order, which token the head reads, the class token's position).
 */
import { erf as mathjsErf } from 'mathjs';
import { describe, expect, it } from 'vitest';
import { LAYER_NORM_EPS, mlpHidden, numTokens, paramShapes, type ViTConfig, type ViTParams } from '../../src/model/config.js';
import { attentionForward } from '../../src/model/layers/attention.js';
import { im2col, patchEmbedForward } from '../../src/model/layers/patch-embed.js';
import { softmaxCrossEntropy } from '../../src/model/layers/softmax-cross-entropy.js';
import { createRng } from '../../src/model/random.js';
import { initViT, normaliseImages, vitBackward, vitForward, zerosLike } from '../../src/model/vit.js';

const tiny: ViTConfig = {
  imgSize: 8, patchSize: 4, inChans: 2, embedDim: 8, depth: 2, numHeads: 2, mlpRatio: 2, numClasses: 3,
  mean: [0.5, 0.4], std: [0.25, 0.3],
};

/** Parameters far from initialisation (every LayerNorm weight ≠ 1, every bias ≠ 0), so every path carries gradient. */
function randomParams(config: ViTConfig, seed: number, std: number): ViTParams {
  const params = initViT(config, seed);
  const rng = createRng(seed + 1000);
  for (const tensor of params.values()) for (let i = 0; i < tensor.data.length; i++) tensor.data[i] += std * rng.normal();
  return params;
}

function randomImages(config: ViTConfig, batch: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: batch * config.inChans * config.imgSize ** 2 }, () => rng.normal());
}

describe('ViT gradient', () => {
  it('every entry of every parameter tensor of a tiny ViT matches central differences of the loss (within 1e-2 of the tensor’s largest gradient)', () => {
    const batch = 2;
    const labels = [0, 2];
    const params = randomParams(tiny, 1, 0.4);
    const images = randomImages(tiny, batch, 2);
    const { logits, activations } = vitForward(tiny, params, images, batch, true);
    const { dLogits } = softmaxCrossEntropy(logits, labels, batch, tiny.numClasses);
    const grads = zerosLike(params);
    vitBackward(tiny, params, activations!, dLogits, grads);

    const loss = (): number => softmaxCrossEntropy(vitForward(tiny, params, images, batch, false).logits, labels, batch, tiny.numClasses).loss;
    // Step 3e-3: large enough that float32 rounding of the loss (~1e-7) stays small against it,
    // small enough that curvature (LayerNorm, softmax, GELU) adds < 1e-3. Measured worst: 1.2e-3.
    const h = 3e-3;
    expect([...params.keys()]).toEqual([...paramShapes(tiny).keys()]);
    for (const [name, tensor] of params) {
      const analytic = grads.get(name)!.data;
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < tensor.data.length; i++) {
        const old = tensor.data[i];
        tensor.data[i] = old + h;
        const hi = tensor.data[i];
        const up = loss();
        tensor.data[i] = old - h;
        const lo = tensor.data[i];
        const down = loss();
        tensor.data[i] = old;
        worst = Math.max(worst, Math.abs((up - down) / (hi - lo) - analytic[i]));
        scale = Math.max(scale, Math.abs(analytic[i]));
      }
      expect(scale, `${name} has no gradient at all`).toBeGreaterThan(1e-4);
      expect(worst / scale, name).toBeLessThan(1e-2);
    }
  });

  it('vitBackward adds into the gradient buffers rather than overwriting them', () => {
    const params = randomParams(tiny, 3, 0.3);
    const { logits, activations } = vitForward(tiny, params, randomImages(tiny, 1, 4), 1, true);
    const { dLogits } = softmaxCrossEntropy(logits, [1], 1, tiny.numClasses);
    const once = zerosLike(params);
    vitBackward(tiny, params, activations!, dLogits, once);
    const twice = zerosLike(params);
    vitBackward(tiny, params, activations!, dLogits, twice);
    vitBackward(tiny, params, activations!, dLogits, twice);
    for (const [name, g] of once) {
      const g2 = twice.get(name)!.data;
      for (let i = 0; i < g.data.length; i++) expect(g2[i]).toBeCloseTo(2 * g.data[i], 6);
    }
  });
});

describe('ViT semantics (timm VisionTransformer)', () => {
  it('logits equal a float64 forward written from timm’s definition within 1e-5 of the largest logit', () => {
    const config: ViTConfig = {
      imgSize: 12, patchSize: 4, inChans: 3, embedDim: 12, depth: 2, numHeads: 3, mlpRatio: 2, numClasses: 5,
      mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
    };
    const batch = 2;
    const params = randomParams(config, 5, 0.3);
    const images = randomImages(config, batch, 6);
    const ours = vitForward(config, params, images, batch, false).logits;
    const reference = referenceForward(config, params, images, batch);
    let scale = 0;
    for (const v of reference) scale = Math.max(scale, Math.abs(v));
    expect(scale).toBeGreaterThan(0.1);
    for (let i = 0; i < reference.length; i++) expect(Math.abs(ours[i] - reference[i]) / scale).toBeLessThan(1e-5);
  });

  it('attention splits qkv as timm’s reshape(B, T, 3, H, d): with q = 0 each head averages its own v into its own columns', () => {
    const [batch, tokens, heads, d] = [2, 4, 3, 2];
    const width = heads * d;
    const qkv = new Float32Array(batch * tokens * 3 * width);
    const rng = createRng(7);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < tokens; t++) {
        for (let h = 0; h < heads; h++) {
          for (let j = 0; j < d; j++) {
            const row = (b * tokens + t) * 3 * width;
            qkv[row + 0 * width + h * d + j] = 0; // q
            qkv[row + 1 * width + h * d + j] = 5 * rng.normal(); // k: irrelevant once q = 0
            qkv[row + 2 * width + h * d + j] = 100 * b + 10 * h + j + t; // v names its image, head and channel
          }
        }
      }
    }
    const out = new Float32Array(batch * tokens * width);
    attentionForward(qkv, out, new Float32Array(batch * heads * tokens * tokens), { batch, tokens, heads, headDim: d });
    // Uniform attention: the mean of v over tokens, i.e. t averages to (T − 1)/2.
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < tokens; t++) {
        for (let h = 0; h < heads; h++) {
          for (let j = 0; j < d; j++) {
            expect(out[(b * tokens + t) * width + h * d + j]).toBeCloseTo(100 * b + 10 * h + j + (tokens - 1) / 2, 4);
          }
        }
      }
    }
  });

  it('attention scores are q·k scaled by d^-0.5: a hand case gives weights 3/4 and 1/4', () => {
    // One head, d = 4, two tokens. q₀ = (1,1,1,1), k₀ = a·(1,1,1,1) with a = ln 3 / 2, k₁ = 0:
    // scores (4a/√4, 0) = (ln 3, 0) → softmax (3/4, 1/4). q₁ = 0 → (1/2, 1/2).
    const a = Math.log(3) / 2;
    const qkv = new Float32Array([
      1, 1, 1, 1, /* k */ a, a, a, a, /* v */ 4, 0, 0, 0,
      0, 0, 0, 0, /* k */ 0, 0, 0, 0, /* v */ 0, 4, 0, 0,
    ]);
    const out = new Float32Array(8);
    const probs = new Float32Array(4);
    attentionForward(qkv, out, probs, { batch: 1, tokens: 2, heads: 1, headDim: 4 });
    const expected = [3, 1, 0, 0, 2, 2, 0, 0];
    for (let i = 0; i < 8; i++) expect(out[i]).toBeCloseTo(expected[i], 5);
    expect(probs[0]).toBeCloseTo(0.75, 6);
  });

  it('patch embedding reads the conv weight [D, C, P, P] in (c, ky, kx) order and numbers patches row-major over the grid', () => {
    const shape = { batch: 1, channels: 2, imgSize: 8, patchSize: 4 };
    const cols = 2 * 4 * 4;
    // pixel (c, y, x) holds 10000c + 100y + x
    const images = new Float32Array(2 * 8 * 8);
    for (let c = 0; c < 2; c++) for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) images[(c * 8 + y) * 8 + x] = 10000 * c + 100 * y + x;
    const patches = new Float32Array(4 * cols);
    im2col(images, patches, shape);
    // The identity as conv weight: output channel o = (c·P + ky)·P + kx copies pixel (c, ky, kx) of its patch.
    const weight = new Float32Array(cols * cols);
    for (let o = 0; o < cols; o++) weight[o * cols + o] = 1;
    const tokens = new Float32Array(4 * cols);
    patchEmbedForward(patches, weight, new Float32Array(cols), tokens, shape, cols);
    for (let gy = 0; gy < 2; gy++) {
      for (let gx = 0; gx < 2; gx++) {
        const token = gy * 2 + gx;
        for (let c = 0; c < 2; c++) {
          for (let ky = 0; ky < 4; ky++) {
            for (let kx = 0; kx < 4; kx++) {
              expect(tokens[token * cols + (c * 4 + ky) * 4 + kx]).toBe(10000 * c + 100 * (gy * 4 + ky) + gx * 4 + kx);
            }
          }
        }
      }
    }
  });

  it('the head reads the final norm of the class token, which carries pos_embed[0]', () => {
    // With attn.proj and mlp.fc2 zeroed both residual branches add nothing, so the class token leaves
    // the blocks as cls_token + pos_embed[0] and logits = head(norm(cls_token + pos_embed[0])) whatever the image.
    const params = randomParams(tiny, 8, 0.5);
    for (let i = 0; i < tiny.depth; i++) {
      for (const name of ['attn.proj.weight', 'attn.proj.bias', 'mlp.fc2.weight', 'mlp.fc2.bias']) params.get(`blocks.${i}.${name}`)!.data.fill(0);
    }
    const d = tiny.embedDim;
    const cls = params.get('cls_token')!.data;
    const pos = params.get('pos_embed')!.data;
    const token = Array.from({ length: d }, (_, j) => cls[j] + pos[j]);
    const normed = layerNorm(token, params.get('norm.weight')!.data, params.get('norm.bias')!.data);
    const expected = linear(normed, params.get('head.weight')!.data, params.get('head.bias')!.data);
    for (const seed of [9, 10]) {
      const { logits } = vitForward(tiny, params, randomImages(tiny, 1, seed), 1, false);
      for (let k = 0; k < tiny.numClasses; k++) expect(logits[k]).toBeCloseTo(expected[k], 5);
    }
  });

  it('a forward without keep (buffers shared across blocks) gives bit-identical logits', () => {
    const params = randomParams(tiny, 11, 0.3);
    const images = randomImages(tiny, 3, 12);
    expect(vitForward(tiny, params, images, 3, false).logits).toEqual(vitForward(tiny, params, images, 3, true).logits);
  });

  it('normaliseImages applies (pixel − mean[c]) / std[c] per channel', () => {
    const pixels = new Float32Array(2 * 2 * 64);
    pixels.fill(0.5, 0, 64); // image 0, channel 0
    pixels.fill(1, 64, 128); // image 0, channel 1
    pixels.fill(0.25, 128, 192); // image 1, channel 0
    const out = normaliseImages(tiny, pixels, 2);
    expect(out[0]).toBe(0);
    expect(out[64]).toBeCloseTo(0.6 / 0.3, 6);
    expect(out[128]).toBe(-1);
    expect(out[192]).toBeCloseTo(-0.4 / 0.3, 6);
  });

  it('a tensor with the wrong shape is refused by name', () => {
    const params = initViT(tiny, 0);
    params.set('blocks.1.mlp.fc1.weight', { shape: [8, 16], data: new Float32Array(128) });
    expect(() => vitForward(tiny, params, randomImages(tiny, 1, 0), 1, false)).toThrow(/blocks\.1\.mlp\.fc1\.weight has shape \[8, 16\].*expected \[16, 8\]/);
  });
});

describe('initViT', () => {
  it('is deterministic in the seed and follows timm’s initialisation', () => {
    const config: ViTConfig = { ...tiny, embedDim: 64, numHeads: 4 };
    const a = initViT(config, 42);
    expect(initViT(config, 42)).toEqual(a);
    expect(initViT(config, 43).get('blocks.0.attn.qkv.weight')!.data).not.toEqual(a.get('blocks.0.attn.qkv.weight')!.data);
    const std = (x: Float32Array): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    // trunc_normal(std .02) for linear weights, pos_embed, cls_token: 12,288 draws → std within 3%.
    expect(std(a.get('blocks.0.attn.qkv.weight')!.data)).toBeCloseTo(0.02, 2);
    expect(Math.abs(std(a.get('blocks.1.mlp.fc1.weight')!.data) / 0.02 - 1)).toBeLessThan(0.03);
    expect(Math.abs(std(a.get('pos_embed')!.data) / 0.02 - 1)).toBeLessThan(0.1);
    expect(a.get('blocks.0.attn.qkv.bias')!.data.every((v) => v === 0)).toBe(true);
    expect(a.get('head.bias')!.data.every((v) => v === 0)).toBe(true);
    expect(a.get('blocks.1.norm2.weight')!.data.every((v) => v === 1)).toBe(true);
    expect(a.get('norm.bias')!.data.every((v) => v === 0)).toBe(true);
    // patch_embed.proj keeps nn.Conv2d's default: uniform in ±1/√(C·P·P), bias included.
    const bound = 1 / Math.sqrt(2 * 4 * 4);
    const patch = a.get('patch_embed.proj.weight')!.data;
    expect(patch.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(std(patch)).toBeGreaterThan(bound / 2);
    expect(a.get('patch_embed.proj.bias')!.data.some((v) => v !== 0)).toBe(true);
  });
});

describe('DeiT-Tiny', () => {
  it('a DeiT-Tiny-shaped model (5,717,416 parameters, random weights) gives finite logits [1, 1000] for one 224×224×3 image', () => {
    const deitTiny: ViTConfig = {
      imgSize: 224, patchSize: 16, inChans: 3, embedDim: 192, depth: 12, numHeads: 3, mlpRatio: 4, numClasses: 1000,
      mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
    };
    const params = initViT(deitTiny, 0);
    let count = 0;
    for (const t of params.values()) count += t.data.length;
    expect(count).toBe(5_717_416); // timm's deit_tiny_patch16_224
    const rng = createRng(1);
    const pixels = Float32Array.from({ length: 3 * 224 * 224 }, () => rng.nextFloat());
    const start = performance.now();
    const { logits } = vitForward(deitTiny, params, normaliseImages(deitTiny, pixels, 1), 1, false);
    const seconds = (performance.now() - start) / 1000;
    expect(logits.length).toBe(1000);
    expect(logits.every(Number.isFinite)).toBe(true);
    expect(logits.some((v) => v !== 0)).toBe(true);
    expect(seconds).toBeLessThan(10);
  });
});

/**
 * timm's VisionTransformer.forward for global_pool='token', written out in float64 with its own
 * index arithmetic: nn.Conv2d(k = s = P) as a direct convolution, cat(cls, x) + pos_embed, blocks
 * x + attn(norm1(x)), x + mlp(norm2(x)) with qkv.reshape(B, N, 3, H, d), q·d^-0.5, nn.GELU() through
 * mathjs's erf, final norm, head(x[:, 0]).
 */
function referenceForward(config: ViTConfig, params: ViTParams, images: Float32Array, batch: number): Float64Array {
  const w = (name: string): Float32Array => params.get(name)!.data;
  const { imgSize: size, patchSize: p, inChans: channels, embedDim: dim, numHeads: heads, numClasses } = config;
  const grid = size / p;
  const tokens = numTokens(config);
  const dh = dim / heads;
  const logits = new Float64Array(batch * numClasses);
  const pixel = (b: number, c: number, y: number, x: number): number => images[((b * channels + c) * size + y) * size + x];
  for (let b = 0; b < batch; b++) {
    let x: number[][] = [];
    x.push(Array.from({ length: dim }, (_, j) => w('cls_token')[j] + w('pos_embed')[j]));
    for (let gy = 0; gy < grid; gy++) {
      for (let gx = 0; gx < grid; gx++) {
        const t = 1 + gy * grid + gx;
        x.push(Array.from({ length: dim }, (_, o) => {
          let sum = w('patch_embed.proj.bias')[o];
          for (let c = 0; c < channels; c++) {
            for (let ky = 0; ky < p; ky++) {
              for (let kx = 0; kx < p; kx++) sum += w('patch_embed.proj.weight')[((o * channels + c) * p + ky) * p + kx] * pixel(b, c, gy * p + ky, gx * p + kx);
            }
          }
          return sum + w('pos_embed')[t * dim + o];
        }));
      }
    }
    for (let i = 0; i < config.depth; i++) {
      const blk = `blocks.${i}.`;
      const qkv = x.map((row) => linear(layerNorm(row, w(blk + 'norm1.weight'), w(blk + 'norm1.bias')), w(blk + 'attn.qkv.weight'), w(blk + 'attn.qkv.bias')));
      // qkv[n] viewed as [3, H, dh]: element (s, h, j) at (s·H + h)·dh + j
      const at = (n: number, s: number, h: number, j: number): number => qkv[n][(s * heads + h) * dh + j];
      const attnOut = x.map(() => new Array<number>(dim).fill(0));
      for (let h = 0; h < heads; h++) {
        for (let n = 0; n < tokens; n++) {
          const scores = Array.from({ length: tokens }, (_, m) => {
            let s = 0;
            for (let j = 0; j < dh; j++) s += at(n, 0, h, j) * dh ** -0.5 * at(m, 1, h, j);
            return s;
          });
          const max = Math.max(...scores);
          const e = scores.map((s) => Math.exp(s - max));
          const z = e.reduce((s, v) => s + v, 0);
          for (let j = 0; j < dh; j++) {
            let sum = 0;
            for (let m = 0; m < tokens; m++) sum += (e[m] / z) * at(m, 2, h, j);
            attnOut[n][h * dh + j] = sum; // transpose(1, 2).reshape(B, N, C)
          }
        }
      }
      x = x.map((row, n) => {
        const proj = linear(attnOut[n], w(blk + 'attn.proj.weight'), w(blk + 'attn.proj.bias'));
        return row.map((v, j) => v + proj[j]);
      });
      x = x.map((row) => {
        const hidden = linear(layerNorm(row, w(blk + 'norm2.weight'), w(blk + 'norm2.bias')), w(blk + 'mlp.fc1.weight'), w(blk + 'mlp.fc1.bias'));
        expect(hidden.length).toBe(mlpHidden(config));
        const act = hidden.map((v) => 0.5 * v * (1 + mathjsErf(v / Math.SQRT2)));
        const out = linear(act, w(blk + 'mlp.fc2.weight'), w(blk + 'mlp.fc2.bias'));
        return row.map((v, j) => v + out[j]);
      });
    }
    const normed = x.map((row) => layerNorm(row, w('norm.weight'), w('norm.bias')));
    const out = linear(normed[0], w('head.weight'), w('head.bias'));
    for (let k = 0; k < numClasses; k++) logits[b * numClasses + k] = out[k];
  }
  return logits;
}

/** nn.LayerNorm(eps = 1e-6) of one token, float64. */
function layerNorm(x: number[], weight: Float32Array, bias: Float32Array): number[] {
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + LAYER_NORM_EPS)) * weight[i] + bias[i]);
}

/** nn.Linear with weight [out, in]: y_o = b_o + Σ_i W[o, i]·x_i. */
function linear(x: number[], weight: Float32Array, bias: Float32Array): number[] {
  return Array.from(bias, (b, o) => x.reduce((s, v, i) => s + weight[o * x.length + i] * v, b));
}
