import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ViTConfig } from '../../src/model/config.js';
import { encodeTypedSafetensors, parseTypedSafetensors } from '../../src/model/safetensors.js';
import { createRng } from '../../src/model/random.js';
import { initViT } from '../../src/model/vit.js';
import { quantizeUniform } from '../../src/quant/methods/uniform.js';
import { encodeQuantizedModel, parseQuantizedModel, readQuantizedModel, writeQuantizedModel } from '../../src/quant/qmodel-file.js';
import type { QuantizedViT, QuantLinear, QuantMatmul } from '../../src/quant/spec.js';
import { refusal } from '../refusal.js';

const CONFIG: ViTConfig = { imgSize: 8, patchSize: 4, inChans: 1, embedDim: 8, depth: 1, numHeads: 2, mlpRatio: 2, numClasses: 3, mean: [0.5], std: [0.25] };
const FILE = 'model.qmodel';

/** A tiny model quantized with min-max uniform, then given one quantizer of every other kind. */
function everyKind(): QuantizedViT {
  const rng = createRng(7);
  const pixels = Float32Array.from({ length: 6 * 64 }, () => Math.floor(rng.nextFloat() * 256) / 255);
  const q = quantizeUniform(CONFIG, initViT(CONFIG, 1), { count: 6, pixels, labels: new Uint8Array(6) }, {
    wbits: 6, abits: 5, seed: 0, extra: { scale: 'minmax', granularity: 'channel', symmetric: false },
  });
  (q.ops.get('blocks.0.attn.pv') as QuantMatmul).a = { kind: 'twin-softmax', bits: 5, splitExponent: 3 };
  const fc2 = q.ops.get('blocks.0.mlp.fc2') as QuantLinear;
  const preAdd = Float32Array.from({ length: 16 }, () => rng.nextFloat() - 0.5);
  fc2.input = { kind: 'twin-gelu', bits: 5, negScale: 0.16997 / 16, posShift: 2, addend: { kind: 'noise', preAdd, postAdd: preAdd.map((v) => -v), noise: { seed: 9, halfRange: 0.5, shift: 0.01 } } };
  const fc1 = q.ops.get('blocks.0.mlp.fc1') as QuantLinear;
  fc1.input = { kind: 'threshold', bits: 3, thresholds: Float64Array.from([-1.5, -1, -0.25, 0, 0.1, 0.7, 1.3]), step: 0.4, offset: -1.2 };
  const head = q.ops.get('head') as QuantLinear;
  head.weight = { ...head.weight, kind: 'odd-level', bits: 4, codes: head.weight.codes.map((c) => 2 * Math.max(-8, Math.min(7, c)) + 1), zeroPoints: undefined };
  const qk = q.ops.get('blocks.0.attn.qk') as QuantMatmul;
  qk.a = { kind: 'uniform', bits: 8, signed: true, scale: Float32Array.from({ length: 5 }, (_, t) => 0.01 * (t + 1)), zeroPoint: 0 };
  return q;
}

/** The file's tensors and metadata with `edit` applied, re-encoded. */
function edited(q: QuantizedViT, edit: (tensors: Map<string, any>, metadata: Record<string, string>) => void): Uint8Array {
  const { tensors, metadata } = parseTypedSafetensors(encodeQuantizedModel(q), FILE);
  edit(tensors, metadata);
  return encodeTypedSafetensors(tensors, metadata);
}

describe('quantized-model file', () => {
  const q = everyKind();

  it('round-trips every quantizer kind bit for bit (same bytes when written again)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitsim-qmodel-'));
    const file = join(dir, 'tiny.qmodel.safetensors');
    writeQuantizedModel(file, q);
    const back = readQuantizedModel(file);
    expect(back.config).toEqual(q.config);
    expect(back.method).toBe('uniform');
    expect(back.options).toEqual(q.options);
    expect([...back.ops.keys()]).toEqual([...q.ops.keys()]);
    for (const [name, op] of q.ops) expect(back.ops.get(name), name).toEqual(op);
    expect(back.residual).toEqual(q.residual);
    expect(back.floatParams).toEqual(q.floatParams);
    expect(Buffer.from(encodeQuantizedModel(back)).equals(readFileSync(file))).toBe(true);
    expect(statSync(file).size).toBeGreaterThan(0);
  });

  it('stores weight codes in the narrowest integer dtype (I8 for 6-bit codes and 4-bit odd levels) and thresholds in F64', () => {
    const { tensors } = parseTypedSafetensors(encodeQuantizedModel(q), FILE);
    expect(tensors.get('blocks.0.attn.qkv.weight.codes')?.dtype).toBe('I8');
    expect(tensors.get('head.weight.codes')?.dtype).toBe('I8');
    expect(tensors.get('blocks.0.mlp.fc1.input.thresholds')?.dtype).toBe('F64');
    expect(tensors.get('blocks.0.mlp.fc2.input.pre_add')?.shape).toEqual([16]);
  });

  it('refuses every malformed file with one line naming the file', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['bad magic', edited(q, (_, m) => { m.format = 'something-else'; }), /format must be "vitsim-qmodel"/],
      ['no magic', edited(q, (_, m) => { delete m.format; }), /format must be "vitsim-qmodel", got nothing/],
      ['bad version', edited(q, (_, m) => { m.version = '2'; }), /version must be "1"/],
      ['bad method', edited(q, (_, m) => { m.method = 'magic'; }), /method must be one of/],
      ['bad config', edited(q, (_, m) => { m.config = '{"img_size": 8}'; }), /config: patchSize must be a positive integer/],
      ['options not JSON', edited(q, (_, m) => { m.options = '{'; }), /options is not valid JSON/],
      ['missing tensor', edited(q, (t) => { t.delete('blocks.0.attn.proj.bias'); }), /tensor "blocks.0.attn.proj.bias" is missing/],
      ['wrong shape', edited(q, (t) => { const c = t.get('blocks.0.attn.qkv.weight.codes'); c.shape = [c.shape[1], c.shape[0]]; }), /must have shape \[24, 8\]/],
      ['extra tensor', edited(q, (t) => { t.set('stray', { dtype: 'F32', shape: [1], data: new Float32Array(1) }); }), /tensor "stray" belongs to no quantizer/],
      ['bits out of range', edited(q, (_, m) => { m.quantizers = m.quantizers.replace('"bits":5', '"bits":17'); }), /bits must be an integer in 2…16, got 17/],
      ['non-increasing thresholds', edited(q, (t) => { t.get('blocks.0.mlp.fc1.input.thresholds').data[3] = -2; }), /thresholds must be strictly increasing/],
      ['code out of range', edited(q, (t) => { t.get('blocks.0.attn.proj.weight.codes').data[0] = 100; }), /codes\[0\] = 100 is not a code in -32…31/],
      ['even odd-level code', edited(q, (t) => { t.get('head.weight.codes').data[2] = 2; }), /codes\[2\] = 2 is not an odd integer in -15…15/],
      ['missing op', edited(q, (_, m) => { const j = JSON.parse(m.quantizers); delete j.ops['head']; m.quantizers = JSON.stringify(j); }), /no entry for op head/],
      ['zero scale', edited(q, (t) => { t.get('residual.0.scale').data[0] = 0; }), /residual\[0\].scale must be positive/],
      ['not safetensors', new TextEncoder().encode('hello world, not a model'), /header length/],
    ];
    for (const [label, bytes, pattern] of cases) {
      const message = refusal(() => parseQuantizedModel(bytes, FILE));
      expect(message, label).toMatch(pattern);
      expect(message.startsWith(`${FILE}: `), label).toBe(true);
      expect(message.includes('\n'), label).toBe(false);
    }
  });
});
