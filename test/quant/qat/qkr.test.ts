import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/config/errors.js';
import { mlpHidden, type Tensor, type ViTParams } from '../../../src/model/config.js';
import { loadCheckpoint } from '../../../src/model/checkpoint.js';
import { loadDataset } from '../../../src/model/datasets.js';
import { createRng } from '../../../src/model/random.js';
import { softmaxCrossEntropy } from '../../../src/model/layers/softmax-cross-entropy.js';
import { normaliseImages, vitBackward, vitForward, zerosLike } from '../../../src/model/vit.js';
import { createQatModel, floatWeight, qatBackward, qatForward, zeroGrads } from '../../../src/quant/qat/model.js';
import { qkrWeight, qkrWeightBackward } from '../../../src/quant/qat/qkr.js';
import { runQat } from '../../../src/quant/qat/run.js';
import { fakeQuantLogits } from '../../../src/quant/fakequant.js';
import { encodeQuantizedModel, parseQuantizedModel } from '../../../src/quant/qmodel-file.js';
import { blockWeightRegions, initQuantizers } from '../../../src/quant/qat/train.js';
import { linearWeightShape } from '../../../src/quant/spec.js';

const MODEL = 'workloads/models/vit-fashion-mnist.safetensors';
const { config, params } = loadCheckpoint(MODEL);
const d = config.embedDim;

/** The checkpoint with every block's q bias zeroed: QKR drops it, and the k bias cannot change a softmax row. */
function withoutQueryBias(p: ViTParams): ViTParams {
  const out: ViTParams = new Map();
  for (const [name, t] of p) {
    const data = Float32Array.from((t as Tensor).data);
    if (name.endsWith('.attn.qkv.bias')) data.fill(0, 0, d);
    out.set(name, { shape: [...t.shape], data });
  }
  return out;
}

function relativeError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

describe('QKR in QAT (OFQ query–key reparameterisation)', () => {
  it('dW_q and dW_k of W_qk = W_qᵀ·W_k equal central differences of a random linear loss', () => {
    const s = { c: 8, heads: 2, d: 4 };
    const rng = createRng(3);
    const qkv = Float32Array.from({ length: 3 * s.c * s.c }, () => rng.normal());
    const g = Float32Array.from({ length: s.heads * s.c * s.c }, () => rng.normal());
    const loss = (w: Float32Array): number => qkrWeight(w, s).reduce((acc, v, i) => acc + v * g[i], 0);
    const grad = new Float32Array(qkv.length);
    qkrWeightBackward(qkv, g, grad, s);
    // V rows (2C…3C) do not enter W_qk.
    expect(grad.subarray(2 * s.c * s.c).every((v) => v === 0)).toBe(true);
    for (let i = 0; i < 2 * s.c * s.c; i += 5) {
      const plus = Float32Array.from(qkv);
      const minus = Float32Array.from(qkv);
      plus[i] += 0.01;
      minus[i] -= 0.01;
      expect(grad[i], `entry ${i}`).toBeCloseTo((loss(plus) - loss(minus)) / 0.02, 2);
    }
  });

  it('in float mode computes the float ViT without its q bias, with the same weight gradients', () => {
    const p = withoutQueryBias(params);
    const images = loadDataset('fashion-mnist', 'test', 6);
    const model = createQatModel(config, p, 'ofq', 4, 4, 'qkr');
    const { logits, activations } = qatForward(model, images.pixels, images.count, 'float');
    const ref = vitForward(config, p, normaliseImages(config, images.pixels, images.count), images.count, true);
    expect(relativeError(logits, ref.logits)).toBeLessThan(1e-4);
    const grads = zeroGrads(model);
    qatBackward(model, activations, softmaxCrossEntropy(logits, images.labels, images.count, config.numClasses).dLogits, grads);
    const refGrads = zerosLike(p);
    vitBackward(config, p, ref.activations!, softmaxCrossEntropy(ref.logits, images.labels, images.count, config.numClasses).dLogits, refGrads);
    for (const name of ['blocks.0.attn.qkv.weight', 'blocks.2.attn.qkv.weight', 'blocks.1.norm1.weight', 'blocks.3.mlp.fc1.weight', 'pos_embed']) {
      expect(relativeError(grads.params.get(name)!.data, refGrads.get(name)!.data), name).toBeLessThan(2e-3);
    }
    // The V third of qkv's bias trains; the q and k thirds have no path to the loss.
    const dBias = grads.params.get('blocks.1.attn.qkv.bias')!.data;
    expect(dBias.subarray(0, 2 * d).every((v) => v === 0)).toBe(true);
    expect(relativeError(dBias.subarray(2 * d), refGrads.get('blocks.1.attn.qkv.bias')!.data.subarray(2 * d))).toBeLessThan(2e-3);
  });

  it('in quant mode with transparent 16-bit quantizers gives the float gradients: the quantizers’ backward reads the right operands and shapes', () => {
    const images = loadDataset('fashion-mnist', 'train', 16);
    const model = createQatModel(config, params, 'ofq', 16, 16, 'qkr');
    // Signed everywhere (an unsigned GELU-output quantizer would clip GELU's negative lobe) and
    // LSQ-initialised at 16 bits: ranges of ±360·mean|x|, steps of 1 % of mean|x|.
    for (const q of model.acts.values()) {
      q.bits = 16;
      if (q.kind === 'lsq') q.signed = true;
    }
    initQuantizers(model, images.pixels, images.count);
    // Weights under LSQ with steps far below their values (StatsQ clips at 2·mean|W|).
    for (const op of model.weights.keys()) {
      const w = floatWeight(model, op);
      const max = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      model.weights.set(op, { scheme: 'lsq', bits: 16, step: new Float32Array(linearWeightShape(config, op)[0]).fill(max / 32000) });
    }
    const gradsOf = (mode: 'quant' | 'float') => {
      const { logits, activations } = qatForward(model, images.pixels, images.count, mode);
      const grads = zeroGrads(model);
      qatBackward(model, activations, softmaxCrossEntropy(logits, images.labels, images.count, config.numClasses).dLogits, grads);
      return grads;
    };
    const quant = gradsOf('quant');
    const float = gradsOf('float');
    for (const name of ['blocks.0.attn.qkv.weight', 'blocks.3.attn.qkv.weight', 'blocks.0.norm1.weight', 'pos_embed']) {
      expect(relativeError(quant.params.get(name)!.data, float.params.get(name)!.data), name).toBeLessThan(0.03);
    }
    // Unclipped, x̂ = x + β_pre moves with β_pre as LN1's output moves with its bias: the pre-bias of
    // X̂ collects the gradient of all three readers (scores, attn.qkr, attn.v).
    const preBias = (quant.acts.get('blocks.1.attn.v.input') as { preBias: Float32Array }).preBias;
    expect(relativeError(preBias, float.params.get('blocks.1.norm1.bias')!.data)).toBeLessThan(0.03);
  });

  it('lays out the QKR quantizers: X̂ with a pre-bias and no post-bias, Û per tensor; CGA and the tracker see V, not q and k', () => {
    const model = createQatModel(config, params, 'ofq', 3, 3, 'qkr');
    expect([...model.weights.keys()].slice(0, 3)).toEqual(['patch_embed.proj', 'blocks.0.attn.v', 'blocks.0.attn.qkr']);
    const x = model.acts.get('blocks.0.attn.v.input');
    expect(x?.kind === 'lsq' && x.preBias?.length === d && x.postBias === undefined && x.step.length === 17).toBe(true);
    const u = model.acts.get('blocks.0.attn.qk.b');
    expect(u?.kind === 'lsq' && u.step.length === 1 && u.signed && !u.preBias).toBe(true);
    expect(model.acts.has('blocks.0.attn.qk.a')).toBe(false);
    const regions = blockWeightRegions(model).filter((r) => r.op.startsWith('blocks.0.'));
    expect(regions.map((r) => [r.op, r.rows, r.cols])).toEqual([
      ['blocks.0.attn.v', d, d], ['blocks.0.attn.proj', d, d], ['blocks.0.mlp.fc1', mlpHidden(config), d], ['blocks.0.mlp.fc2', d, mlpHidden(config)],
    ]);
    expect(() => createQatModel(config, params, 'n2uq', 3, 3, 'qkr')).toThrow(/belongs to ofq/);
  });

  it('a short OFQ+QKR run gives a QKR quantized model whose W_qk codes are StatsQ of the trained q and k rows', () => {
    const train = loadDataset('fashion-mnist', 'train', 64);
    const run = runQat('ofq', config, params, train, { wbits: 2, abits: 2, seed: 1, extra: { batchSize: 32, calibrationImages: 32, qkr: true } });
    const q = run.quantized;
    expect(q.attention).toBe('qkr');
    expect(run.options.attention).toBe('qkr');
    const qkrOp = q.ops.get('blocks.1.attn.qkr');
    expect(qkrOp?.kind).toBe('linear');
    if (qkrOp?.kind !== 'linear') return;
    expect(qkrOp.weight.shape).toEqual([config.numHeads * d, d]);
    // 2-bit odd levels: codes 2r + 1 ∈ {−3, −1, 1, 3}; one scale per row of W_qk.
    expect(new Set(qkrOp.weight.codes)).toEqual(new Set([-3, -1, 1, 3]));
    expect(qkrOp.weight.scales.length).toBe(config.numHeads * d);
    const wqk = qkrWeight((run.result.model.params.get('blocks.1.attn.qkv.weight') as Tensor).data, { c: d, heads: config.numHeads, d: d / config.numHeads });
    // Row 5's scale is mean|W_qk,row| / 2 (StatsQ's half step at 2 bits).
    let mean = 0;
    for (let c = 0; c < d; c++) mean += Math.abs(wqk[5 * d + c]) / d;
    expect(qkrOp.weight.scales[5]).toBeCloseTo(mean / 2, 6);
    const qk = q.ops.get('blocks.1.attn.qk');
    const v = q.ops.get('blocks.1.attn.v');
    expect(qk?.kind === 'matmul' && v?.kind === 'linear' && qk.a === v.input && qkrOp.input === v.input).toBe(true);
    // The file keeps it, and the assembled model predicts what the training forward predicts.
    const back = parseQuantizedModel(encodeQuantizedModel(q), 'memory');
    expect(back.attention).toBe('qkr');
    const images = train.pixels.subarray(0, 32 * 784);
    const fake = fakeQuantLogits(back, images, 32);
    const { logits } = qatForward(run.result.model, images, 32);
    let agree = 0;
    for (let b = 0; b < 32; b++) if (argmax(fake, b) === argmax(logits, b)) agree++;
    // As for the standard models (train.test.ts): the residual stream is quantized only in the assembled model.
    expect(agree).toBeGreaterThanOrEqual(28);
  });

  it('refuses qkr for methods other than ofq with one line', () => {
    const train = loadDataset('fashion-mnist', 'train', 32);
    expect(() => runQat('lsq', config, params, train, { wbits: 4, abits: 4, seed: 0, extra: { qkr: true } })).toThrow(UserError);
    expect(() => runQat('lsq', config, params, train, { wbits: 4, abits: 4, seed: 0, extra: { qkr: true } })).toThrow(/qkr .*belongs to ofq only/);
  });
});

function argmax(logits: Float32Array, row: number): number {
  let best = 0;
  for (let c = 1; c < 10; c++) if (logits[row * 10 + c] > logits[row * 10 + best]) best = c;
  return best;
}
