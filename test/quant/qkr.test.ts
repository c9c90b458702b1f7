import { beforeAll, describe, expect, it } from 'vitest';
import { LAYER_NORM_EPS, headDim, numPatches, numTokens, type Tensor } from '../../src/model/config.js';
import { loadDataset } from '../../src/model/datasets.js';
import { geluForward } from '../../src/model/layers/gelu.js';
import { layerNormForward } from '../../src/model/layers/layer-norm.js';
import { im2col } from '../../src/model/layers/patch-embed.js';
import { encodeTypedSafetensors, parseTypedSafetensors } from '../../src/model/safetensors.js';
import { assembleQuantizedViT, type OpDecision } from '../../src/quant/assemble.js';
import { quantizedViTProblem } from '../../src/quant/validate.js';
import { fakeQuantForward, fakeQuantLogits, type OperandName } from '../../src/quant/fakequant.js';
import { encodeQuantizedModel, parseQuantizedModel } from '../../src/quant/qmodel-file.js';
import { dequantizeWeight, fakeQuantValue } from '../../src/quant/quantizers.js';
import { quantOpNames, type ActQuant, type QuantizedViT, type QuantLinear, type QuantMatmul, type UniformQuant } from '../../src/quant/spec.js';
import { argmaxRows, qkrModel, testImages, uniformW8A8 } from '../integer/fixture.js';
import { refusal } from '../refusal.js';

const FILE = 'qkr.qmodel';

describe('QuantizedViT with QKR attention', () => {
  let base: QuantizedViT;
  let q: QuantizedViT;

  beforeAll(() => {
    base = uniformW8A8();
    q = qkrModel(base, loadDataset('fashion-mnist', 'train', 32).pixels, 32);
  });

  it('assembles with attn.v and attn.qkr in place of attn.qkv, in forward order, and says so', () => {
    expect(q.attention).toBe('qkr');
    expect(base.attention).toBeUndefined();
    expect([...q.ops.keys()]).toEqual(quantOpNames(q.config, 'qkr'));
    expect([...q.ops.keys()].slice(0, 4)).toEqual(['patch_embed.proj', 'blocks.0.attn.v', 'blocks.0.attn.qkr', 'blocks.0.attn.qk']);
    expect((q.ops.get('blocks.0.attn.qkr') as QuantLinear).weight.shape).toEqual([4 * 64, 64]);
    expect(quantizedViTProblem(q)).toBeUndefined();
  });

  it('refuses a QKR linear decision without its explicit bias', () => {
    const decisions = new Map<string, OpDecision>();
    for (const [name, op] of q.ops) {
      decisions.set(name, op.kind === 'linear' ? { kind: 'linear', input: op.input, weight: op.weight, bias: op.bias } : { kind: 'matmul', a: op.a, b: op.b });
    }
    const v = q.ops.get('blocks.1.attn.v') as QuantLinear;
    decisions.set('blocks.1.attn.v', { kind: 'linear', input: v.input, weight: v.weight });
    const input = { config: q.config, params: q.floatParams, method: q.method, options: q.options, decisions, residual: q.residual };
    expect(() => assembleQuantizedViT({ ...input, attention: 'qkr' })).toThrow(/blocks\.1\.attn\.v must carry its bias/);
    expect(() => assembleQuantizedViT(input)).toThrow(/no decision for op blocks\.0\.attn\.qkv/);
  });

  it('round-trips through the quantized-model file bit for bit, attention key included; standard files have none', () => {
    const bytes = encodeQuantizedModel(q);
    const { metadata, tensors } = parseTypedSafetensors(bytes, FILE);
    expect(metadata.attention).toBe('qkr');
    expect(metadata.version).toBe('1');
    expect(tensors.get('blocks.0.attn.qkr.weight.codes')?.shape).toEqual([256, 64]);
    expect(tensors.get('blocks.0.attn.v.weight.codes')?.shape).toEqual([64, 64]);
    expect(tensors.has('blocks.0.attn.qkv.weight.codes')).toBe(false);
    const back = parseQuantizedModel(bytes, FILE);
    expect(back.attention).toBe('qkr');
    expect([...back.ops.keys()]).toEqual([...q.ops.keys()]);
    for (const [name, op] of q.ops) expect(back.ops.get(name), name).toEqual(op);
    expect(back.residual).toEqual(q.residual);
    expect(back.floatParams).toEqual(q.floatParams);
    expect(Buffer.from(encodeQuantizedModel(back)).equals(Buffer.from(bytes))).toBe(true);
    expect(parseTypedSafetensors(encodeQuantizedModel(base), FILE).metadata).not.toHaveProperty('attention');
    expect(parseQuantizedModel(encodeQuantizedModel(base), FILE).attention).toBeUndefined();
  });

  it('refuses an unknown attention form, or a QKR file without its attention key, in one line', () => {
    const { tensors, metadata } = parseTypedSafetensors(encodeQuantizedModel(q), FILE);
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...metadata, attention: 'bogus' }, /^qkr\.qmodel: __metadata__\.attention must be "qkr" when present \(absent means standard attention\), got "bogus"$/],
      [{ ...metadata, attention: 'standard' }, /attention must be "qkr" when present/],
      [Object.fromEntries(Object.entries(metadata).filter(([k]) => k !== 'attention')), /ops names "blocks\.0\.attn\.v", which the config's ViT with standard attention does not have/],
    ];
    for (const [meta, pattern] of cases) {
      const message = refusal(() => parseQuantizedModel(encodeTypedSafetensors(tensors, meta), FILE));
      expect(message).toMatch(pattern);
      expect(message.includes('\n')).toBe(false);
    }
  });

  it('fake-quant computes S_h = X̂·Û_hᵀ·d^−½: its logits equal a direct float64 computation of the datapath within 1e-4 relative on 2 images', () => {
    const images = testImages(2);
    const fake = fakeQuantForward(q, images.pixels, 2);
    let worst = 0;
    let top = 0;
    for (let i = 0; i < 2; i++) {
      const ref = referenceLogits(q, images.pixels.subarray(i * 784, (i + 1) * 784));
      for (let c = 0; c < 10; c++) {
        worst = Math.max(worst, Math.abs(fake[i * 10 + c] - ref[c]));
        top = Math.max(top, Math.abs(ref[c]));
      }
    }
    // Measured: 2.3e-7 (float32 against float64 rounding; no code lands on another side of a boundary).
    expect(top).toBeGreaterThan(1);
    expect(worst / top).toBeLessThan(1e-4);
  });

  it('reports X̂ to observe under attn.v, attn.qkr and qk a (one array), U under qk b', () => {
    const seen = new Map<string, { x: Float32Array; xHat: Float32Array; cols: number }>();
    fakeQuantForward(q, testImages(3).pixels, 3, {
      observe(name: string, operand: OperandName, x, xHat, _rows, cols) {
        if (name.startsWith('blocks.1.')) seen.set(`${name}:${operand}`, { x, xHat, cols });
      },
    });
    expect([...seen.keys()].sort()).toEqual([
      'blocks.1.attn.pv:a', 'blocks.1.attn.pv:b', 'blocks.1.attn.qk:a', 'blocks.1.attn.qk:b', 'blocks.1.attn.qkr:input',
      'blocks.1.attn.v:input', 'blocks.1.attn.proj:input', 'blocks.1.mlp.fc1:input', 'blocks.1.mlp.fc2:input',
    ].sort());
    const x = seen.get('blocks.1.attn.v:input');
    expect(seen.get('blocks.1.attn.qk:a')?.xHat).toBe(x?.xHat);
    expect(seen.get('blocks.1.attn.qkr:input')?.xHat).toBe(x?.xHat);
    expect(seen.get('blocks.1.attn.qk:b')?.cols).toBe(4 * 64);
  });

  it('stays within 2 points of the standard model’s fake-quant accuracy on 300 test images (q bias dropped)', () => {
    const images = testImages(300);
    const accuracy = (model: QuantizedViT): number => {
      const predictions = argmaxRows(fakeQuantLogits(model, images.pixels, images.count), 10);
      return predictions.filter((p, i) => p === images.labels[i]).length / images.count;
    };
    // Measured: QKR 88.00 %, standard 88.67 %.
    expect(Math.abs(accuracy(q) - accuracy(base))).toBeLessThanOrEqual(0.02);
  });

  it('names what is wrong with a QKR model: qk.a or attn.qkr.input not attn.v.input, a post-add on X̂, the wrong U quantizer', () => {
    const withOp = (name: string, op: QuantLinear | QuantMatmul): QuantizedViT => ({ ...q, ops: new Map(q.ops).set(name, op) });
    const qk = q.ops.get('blocks.2.attn.qk') as QuantMatmul;
    const x = qk.a as UniformQuant;
    const otherScale: UniformQuant = { ...x, scale: Float32Array.of(x.scale[0] * 1.5) };
    expect(quantizedViTProblem(withOp('blocks.2.attn.qk', { ...qk, a: otherScale }))).toBe(
      'blocks.2.attn.qk.a must be the same quantizer as blocks.2.attn.v.input (QKR\'s scores multiply the X̂ that attn.v and attn.qkr read)',
    );
    // Equal values in separate arrays are the same quantizer.
    expect(quantizedViTProblem(withOp('blocks.2.attn.qk', { ...qk, a: { ...x, scale: x.scale.slice() } }))).toBeUndefined();
    const qkr = q.ops.get('blocks.2.attn.qkr') as QuantLinear;
    expect(quantizedViTProblem(withOp('blocks.2.attn.qkr', { ...qkr, input: otherScale }))).toMatch(/^blocks\.2\.attn\.qkr\.input must be the same quantizer as blocks\.2\.attn\.v\.input/);
    const addend = { kind: 'learned-bias' as const, preAdd: new Float32Array(64).fill(0.01), postAdd: new Float32Array(64) };
    addend.postAdd[5] = 0.25;
    const withPost: ActQuant = { ...x, addend };
    const ops = new Map(q.ops);
    ops.set('blocks.2.attn.qk', { ...qk, a: withPost });
    ops.set('blocks.2.attn.v', { ...(q.ops.get('blocks.2.attn.v') as QuantLinear), input: withPost });
    ops.set('blocks.2.attn.qkr', { ...qkr, input: withPost });
    expect(quantizedViTProblem({ ...q, ops })).toMatch(/^blocks\.2\.attn\.qk\.a\.addend\.postAdd must be all zero in a QKR block .* got 0\.25 at channel 5$/);
    addend.postAdd[5] = 0;
    expect(quantizedViTProblem({ ...q, ops })).toBeUndefined();
    const u = qk.b as UniformQuant;
    expect(quantizedViTProblem(withOp('blocks.2.attn.qk', { ...qk, b: { ...u, signed: false } }))).toMatch(/attn\.qk\.b \(U\) must be a signed per-tensor uniform quantizer with zero point 0 .* got unsigned uniform/);
    expect(quantizedViTProblem(withOp('blocks.2.attn.qk', { ...qk, b: { ...u, scale: new Float32Array(17).fill(0.1) } }))).toMatch(/got signed uniform, 17 scales/);
    expect(quantizedViTProblem({ ...q, attention: 'qkv' as never })).toBe('attention must be "standard" or "qkr", got qkv');
  });

  it('refuses, in one line, a file whose X̂ has a zero point: the integer engine could not run it', () => {
    const { tensors, metadata } = parseTypedSafetensors(encodeQuantizedModel(q), FILE);
    const quantizers = JSON.parse(metadata.quantizers);
    for (const at of [quantizers.ops['blocks.1.attn.v'].input, quantizers.ops['blocks.1.attn.qkr'].input, quantizers.ops['blocks.1.attn.qk'].a]) at.zero_point = 3;
    const message = refusal(() => parseQuantizedModel(encodeTypedSafetensors(tensors, { ...metadata, quantizers: JSON.stringify(quantizers) }), FILE));
    expect(message).toMatch(/^qkr\.qmodel: blocks\.1\.attn\.v\.input \(QKR's X̂\) must be a uniform quantizer with zero point 0, got signed uniform, \d+ scales?, zero point 3$/);
  });
});

/**
 * The logits of one image under the file format's datapath (docs/quant-format.md §4), written out in
 * float64 loops, element by element through the quantizers: the check on fake-quant's QKR block.
 */
function referenceLogits(q: QuantizedViT, pixels: Float32Array): Float64Array {
  const { config } = q;
  const d = config.embedDim;
  const heads = config.numHeads;
  const hd = headDim(config);
  const t = numTokens(config);
  const np = numPatches(config);
  const fp = (name: string): Float32Array => (q.floatParams.get(name) as Tensor).data;
  const lin = (name: string): QuantLinear => q.ops.get(name) as QuantLinear;
  const mm = (name: string): QuantMatmul => q.ops.get(name) as QuantMatmul;
  const fq = (quantizer: ActQuant, x: ArrayLike<number>, rows: number, cols: number): Float64Array =>
    Float64Array.from({ length: rows * cols }, (_, i) => fakeQuantValue(quantizer, x[i], i % cols, Math.floor(i / cols) % t));
  const linear = (op: QuantLinear, xHat: Float64Array, rows: number): Float64Array => {
    const [outs, ins] = op.weight.shape;
    const w = dequantizeWeight(op.weight);
    const y = new Float64Array(rows * outs);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outs; o++) {
        let s = op.bias[o];
        for (let i = 0; i < ins; i++) s += xHat[r * ins + i] * w[o * ins + i];
        y[r * outs + o] = s;
      }
    }
    return y;
  };
  const layerNorm = (x: Float64Array, name: string, rows: number): Float64Array => {
    const y = new Float64Array(rows * d);
    layerNormForward(x, Float64Array.from(fp(name + '.weight')), Float64Array.from(fp(name + '.bias')), y, new Float64Array(rows), new Float64Array(rows), rows, d, LAYER_NORM_EPS);
    return y;
  };

  const ppc = config.inChans * config.patchSize ** 2;
  const patches = new Float32Array(np * ppc);
  im2col(pixels, patches, { batch: 1, channels: config.inChans, imgSize: config.imgSize, patchSize: config.patchSize });
  const pe = lin('patch_embed.proj');
  const embedded = linear(pe, fq(pe.input, patches, np, ppc), np);
  const cls = fp('cls_token');
  const pos = fp('pos_embed');
  let x: Float64Array = Float64Array.from({ length: t * d }, (_, i) => (i < d ? cls[i] : embedded[i - d]) + pos[i]);
  x = fq(q.residual[0], x, t, d);
  for (let blk = 0; blk < config.depth; blk++) {
    const b = `blocks.${blk}.`;
    const v = lin(b + 'attn.v');
    const qk = mm(b + 'attn.qk');
    const pv = mm(b + 'attn.pv');
    const xHat = fq(v.input, layerNorm(x, b + 'norm1', t), t, d);
    const vHat = fq(pv.b, linear(v, xHat, t), t, d);
    const uHat = fq(qk.b, linear(lin(b + 'attn.qkr'), xHat, t), t, heads * d);
    const attnOut = new Float64Array(t * d);
    for (let h = 0; h < heads; h++) {
      const p = new Float64Array(t * t);
      for (let i = 0; i < t; i++) {
        for (let n = 0; n < t; n++) {
          let s = 0;
          for (let c = 0; c < d; c++) s += xHat[i * d + c] * uHat[n * heads * d + h * d + c];
          p[i * t + n] = s / Math.sqrt(hd);
        }
        const row = p.subarray(i * t, (i + 1) * t);
        const max = Math.max(...row);
        let sum = 0;
        for (let n = 0; n < t; n++) sum += (row[n] = Math.exp(row[n] - max));
        for (let n = 0; n < t; n++) row[n] /= sum;
      }
      const pHat = fq(pv.a, p, t, t);
      for (let i = 0; i < t; i++) {
        for (let j = 0; j < hd; j++) {
          let s = 0;
          for (let n = 0; n < t; n++) s += pHat[i * t + n] * vHat[n * d + h * hd + j];
          attnOut[i * d + h * hd + j] = s;
        }
      }
    }
    const proj = lin(b + 'attn.proj');
    const branch = linear(proj, fq(proj.input, attnOut, t, d), t);
    x = fq(q.residual[2 * blk + 1], x.map((v0, i) => v0 + branch[i]), t, d);
    const fc1 = lin(b + 'mlp.fc1');
    const h1 = linear(fc1, fq(fc1.input, layerNorm(x, b + 'norm2', t), t, fc1.weight.shape[1]), t);
    geluForward(h1, h1, h1.length);
    const fc2 = lin(b + 'mlp.fc2');
    const branch2 = linear(fc2, fq(fc2.input, h1, t, fc2.weight.shape[1]), t);
    x = fq(q.residual[2 * blk + 2], x.map((v0, i) => v0 + branch2[i]), t, d);
  }
  const head = lin('head');
  return linear(head, fq(head.input, layerNorm(x.slice(0, d), 'norm', 1), 1, d), 1);
}
