import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { uniformBits } from '../../src/trace/bits.js';
import { buildTrace, opShapes } from '../../src/trace/build.js';
import { opMacs, opWeights, type GemmOp } from '../../src/trace/ops.js';
import { loadWorkload, parseWorkload, workloadNames, type SwinWorkload, type VitWorkload } from '../../src/trace/workload.js';
import { UserError } from '../../src/config/errors.js';

const bits8 = uniformBits(8, 8);

function macs(name: string, overrides: Partial<VitWorkload> = {}, batch?: number): number {
  const workload = { ...loadWorkload(name), ...overrides } as VitWorkload;
  const trace = buildTrace(workload, { bits: bits8, ...(batch === undefined ? {} : { batch }) });
  return trace.ops.reduce((sum, op) => sum + opMacs(op), 0);
}

/**
 * A ViT's MACs from first principles: the patch embedding is P patches × (3·p²) inputs × D outputs;
 * each block does qkv (3TD²) + proj (TD²) + fc1 and fc2 at MLP ratio 4 (8TD²) = 12TD², plus Q·Kᵀ and
 * P·V over all heads (T·T·D each); the head reads the class token (D × classes).
 */
function vitMacsClosedForm(img: number, patch: number, d: number, depth: number, classes = 1000): number {
  const p = (img / patch) ** 2;
  const t = p + 1;
  return p * 3 * patch * patch * d + depth * (12 * t * d * d + 2 * t * t * d) + d * classes;
}

describe('workload MAC totals', () => {
  // Papers print these as GFLOPs but count one multiply-add as one FLOP (fvcore), so they are MACs.
  // They are rounded and some omit small terms, hence the loose 4 %; the closed form is exact.
  const cases: [string, number, number, number, number][] = [
    ['deit-t', 192, 12, 1.3e9, 0.04],
    ['deit-s', 384, 12, 4.6e9, 0.01],
    ['deit-b', 768, 12, 17.5e9, 0.01],
  ];
  for (const [name, d, depth, published, tolerance] of cases) {
    it(`${name} counts exactly the closed-form MACs and is within ${tolerance * 100} % of the published figure`, () => {
      const total = macs(name);
      expect(total).toBe(vitMacsClosedForm(224, 16, d, depth));
      expect(Math.abs(total - published) / published).toBeLessThan(tolerance);
      expect(loadWorkload(name).published?.macs).toBe(published);
    });
  }

  it('DeiT-S is 4,598,882,304 MACs per image (about 4.6 G, the figure papers call 4.6 GFLOPs)', () => {
    expect(macs('deit-s')).toBe(4_598_882_304);
  });

  for (const [name, d, depth, published] of [['vit-b16', 768, 12, 55.4e9], ['vit-l16', 1024, 24, 190.7e9]] as const) {
    it(`${name} at 224 px matches the closed form, and at 384 px the published ${published / 1e9} G`, () => {
      expect(macs(name)).toBe(vitMacsClosedForm(224, 16, d, depth));
      expect(loadWorkload(name).published?.imgSize).toBe(384);
      const at384 = macs(name, { imgSize: 384 });
      expect(at384).toBe(vitMacsClosedForm(384, 16, d, depth));
      expect(Math.abs(at384 - published) / published).toBeLessThan(0.01);
    });
  }

  it('Swin-T counts exactly the closed-form MACs and is within 1 % of the published 4.5 G', () => {
    // Stage s: N tokens of C channels; a block is 12NC² of linear layers plus Q·Kᵀ and P·V inside
    // 7×7 windows (2·49·N·C over all heads); patch merging projects N/4 tokens from 4C to 2C.
    const depths = [2, 2, 6, 2];
    let expected = 56 * 56 * 48 * 96 + 768 * 1000;
    for (let s = 0; s < 4; s++) {
      const n = (56 / 2 ** s) ** 2;
      const c = 96 * 2 ** s;
      expected += depths[s] * (12 * n * c * c + 2 * 49 * n * c);
      if (s < 3) expected += (n / 4) * 4 * c * 2 * c;
    }
    const total = macs('swin-t');
    expect(total).toBe(expected);
    expect(total).toBe(4_490_566_656);
    expect(Math.abs(total - 4.5e9) / 4.5e9).toBeLessThan(0.01);
  });

  it('GEMM weights come within 3 % of the published parameter counts (biases, norms and embeddings are the rest)', () => {
    for (const name of ['deit-s', 'deit-b', 'vit-l16', 'swin-t']) {
      const workload = loadWorkload(name);
      const weights = buildTrace(workload, { bits: bits8 }).ops.reduce((sum, op) => sum + opWeights(op), 0);
      const params = workload.published?.params ?? NaN;
      expect(Math.abs(weights - params) / params, name).toBeLessThan(0.03);
    }
  });

  it('MACs scale linearly with the batch, and weights do not', () => {
    for (const name of ['deit-t', 'swin-t']) {
      expect(macs(name, {}, 4)).toBe(4 * macs(name));
      const weights = (batch: number) => buildTrace(loadWorkload(name), { bits: bits8, batch }).ops.reduce((s, op) => s + opWeights(op), 0);
      expect(weights(4)).toBe(weights(1));
    }
  });
});

describe('op list', () => {
  it('a ViT block runs norm1, qkv, per-head Q·Kᵀ, softmax, P·V, proj, residual, norm2, fc1, GELU, fc2, residual', () => {
    const ops = buildTrace(loadWorkload('deit-s'), { bits: bits8, batch: 2 }).ops;
    const block = ops.filter((op) => op.name.startsWith('blocks.3.'));
    expect(block.map((op) => `${op.kind} ${op.name}`)).toEqual([
      'layernorm blocks.3.norm1',
      'gemm blocks.3.attn.qkv',
      'gemm blocks.3.attn.qk',
      'softmax blocks.3.attn.softmax',
      'gemm blocks.3.attn.pv',
      'gemm blocks.3.attn.proj',
      'add blocks.3.residual1',
      'layernorm blocks.3.norm2',
      'gemm blocks.3.mlp.fc1',
      'gelu blocks.3.mlp.act',
      'gemm blocks.3.mlp.fc2',
      'add blocks.3.residual2',
    ]);
    const gemm = (name: string) => block.find((op) => op.name === name) as GemmOp;
    // Linear layers fold the batch into M; attention products stay per head with count = heads × batch.
    expect(gemm('blocks.3.attn.qkv')).toMatchObject({ m: 394, k: 384, n: 1152, count: 1, bOperand: 'weight' });
    expect(gemm('blocks.3.attn.qk')).toMatchObject({ m: 197, k: 64, n: 197, count: 12, bOperand: 'activation' });
    expect(gemm('blocks.3.attn.pv')).toMatchObject({ m: 197, k: 197, n: 64, count: 12, bOperand: 'activation' });
    expect(gemm('blocks.3.mlp.fc2')).toMatchObject({ m: 394, k: 1536, n: 384 });
    expect(block.find((op) => op.name === 'blocks.3.attn.softmax')).toMatchObject({ rows: 197, cols: 197, count: 12 });
  });

  it('a ViT starts with the patch embedding and position embedding and ends with the class-token norm and head', () => {
    const ops = buildTrace(loadWorkload('deit-t'), { bits: bits8 }).ops;
    expect(ops.slice(0, 3).map((op) => op.name)).toEqual(['patch_embed.proj', 'pos_embed', 'blocks.0.norm1']);
    expect(ops[0]).toMatchObject({ m: 196, k: 768, n: 192 });
    expect(ops.slice(-2)).toMatchObject([{ kind: 'layernorm', name: 'norm', rows: 1, cols: 192 }, { kind: 'gemm', name: 'head', m: 1, k: 192, n: 1000 }]);
  });

  it('the shapes agree with the GEMMs of the SCALE-Sim reference runs for DeiT-S', () => {
    // ../shared/reference/scalesim/topologies/deit_small__*.csv (M, N, K; attention GEMMs per head).
    const reference: Record<string, [number, number, number]> = {
      'patch_embed.proj': [196, 384, 768],
      'blocks.0.attn.qkv': [197, 1152, 384],
      'blocks.0.attn.qk': [197, 197, 64],
      'blocks.0.attn.pv': [197, 64, 197],
      'blocks.0.attn.proj': [197, 384, 384],
      'blocks.0.mlp.fc1': [197, 1536, 384],
      'blocks.0.mlp.fc2': [197, 384, 1536],
    };
    const ops = buildTrace(loadWorkload('deit-s'), { bits: bits8 }).ops;
    for (const [name, [m, n, k]] of Object.entries(reference)) expect(ops.find((op) => op.name === name), name).toMatchObject({ m, k, n });
  });

  it('Swin-T attends within 7×7 windows, merges patches between stages and pools before the head', () => {
    const ops = buildTrace(loadWorkload('swin-t'), { bits: bits8 }).ops;
    const byName = (name: string) => ops.find((op) => op.name === name);
    // Stage 0: 56×56 tokens = 64 windows of 49, 3 heads of 32 channels.
    expect(byName('layers.0.blocks.0.attn.qk')).toMatchObject({ m: 49, k: 32, n: 49, count: 64 * 3 });
    expect(byName('layers.0.blocks.0.attn.rel_pos_bias')).toMatchObject({ kind: 'add', rows: 49, cols: 49, count: 64 * 3 });
    // Stage 3: 7×7 tokens = one window, 24 heads.
    expect(byName('layers.3.blocks.1.attn.pv')).toMatchObject({ m: 49, k: 49, n: 32, count: 24 });
    expect(byName('layers.0.downsample.norm')).toMatchObject({ kind: 'layernorm', rows: 784, cols: 384 });
    expect(byName('layers.0.downsample.reduction')).toMatchObject({ m: 784, k: 384, n: 192 });
    expect(byName('layers.3.downsample.reduction')).toBeUndefined();
    expect(ops.slice(-3)).toMatchObject([{ kind: 'layernorm', name: 'norm', rows: 49 }, { kind: 'avgpool', rows: 768, cols: 49 }, { name: 'head', m: 1, k: 768, n: 1000 }]);
    expect(ops.filter((op) => op.name.endsWith('.attn.qkv'))).toHaveLength(12);
  });

  it('the tiny ViTs describe 28×28 grey images in 4×4 patches of 7×7 pixels with a class token', () => {
    const ops = buildTrace(loadWorkload('vit-fashion-mnist'), { bits: bits8 }).ops;
    expect(ops[0]).toMatchObject({ name: 'patch_embed.proj', m: 16, k: 49 });
    expect(ops.find((op) => op.name === 'blocks.0.attn.qk')).toMatchObject({ m: 17, n: 17 });
    expect(ops.at(-1)).toMatchObject({ name: 'head', n: 10 });
  });

  for (const name of ['vit-fashion-mnist', 'vit-mnist']) {
    const workload = loadWorkload(name) as VitWorkload;
    const file = fileURLToPath(new URL(`../../${workload.checkpoint ?? ''}`, import.meta.url));
    // The description was written from the training recipe before the checkpoint existed.
    it.skipIf(!existsSync(file))(`${name} describes its trained checkpoint`, () => {
      const { config } = loadCheckpoint(file);
      const { imgSize, patchSize, inChans, embedDim, depth, numHeads, mlpRatio, numClasses } = config;
      expect(workload).toMatchObject({ imgSize, patchSize, inChans, embedDim, depth, numHeads, mlpRatio, numClasses });
    });
  }

  it('every op name is unique in every shipped workload', () => {
    for (const name of workloadNames()) {
      const names = opShapes(loadWorkload(name), 1).map((op) => op.name);
      expect(new Set(names).size, name).toBe(names.length);
    }
  });
});

describe('workload descriptions', () => {
  const base = { name: 'x', family: 'vit', source: 'test', imgSize: 224, patchSize: 16, inChans: 3, embedDim: 384, depth: 12, numHeads: 6, mlpRatio: 4, numClasses: 1000 };

  it('fills the defaults: batch 1 and a class token', () => {
    expect(parseWorkload(base, 'x.json')).toMatchObject({ batch: 1, classToken: true });
    expect(Object.keys(loadWorkload('deit-s'))).not.toContain('$schema');
  });

  it.each([
    [{ ...base, depth: 0 }, 'x.json: depth must be >= 1, got 0'],
    [{ ...base, patchSize: 15 }, 'x.json: imgSize 224 must be a multiple of patchSize 15'],
    [{ ...base, numHeads: 5 }, 'x.json: embedDim 384 must be a multiple of numHeads 5'],
    [{ ...base, depth: undefined }, 'x.json: depth is required but missing'],
    [{ ...base, heads: 6 }, 'x.json: heads is not a known field'],
  ])('refuses a bad description with one line (%#)', (data, message) => {
    expect(() => parseWorkload(data, 'x.json')).toThrow(new UserError(message));
  });

  it('refuses a Swin whose windows do not tile a stage', () => {
    const swin = { ...(loadWorkload('swin-t') as SwinWorkload), windowSize: 6 } as Record<string, unknown>;
    expect(() => parseWorkload(swin, 's.json')).toThrow(/windowSize 6 must divide stage 0's resolution 56×56/);
  });
});
