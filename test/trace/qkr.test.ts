import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { designOf } from '../../src/dse/design.js';
import { parseSweep } from '../../src/dse/spec.js';
import { loadArch } from '../../src/hw/arch-file.js';
import { simulateTrace } from '../../src/hw/simulate.js';
import type { ViTConfig } from '../../src/model/config.js';
import { linearWeightShape, quantOpNames, type ActQuant, type QuantizedViT, type QuantOp, type UniformQuant } from '../../src/quant/spec.js';
import { loadBitsMap, uniformBits } from '../../src/trace/bits.js';
import { buildTrace } from '../../src/trace/build.js';
import { traceFromQuantized } from '../../src/trace/from-quantized.js';
import { opMacs, type GemmOp } from '../../src/trace/ops.js';
import { formatTrace, parseTrace, traceTotals, type Trace } from '../../src/trace/trace.js';
import { loadWorkload, parseWorkload, withAttention, type AttentionForm, type VitWorkload } from '../../src/trace/workload.js';
import { refusal } from '../refusal.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vitsim-qkr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bits8 = uniformBits(8, 8);

function vit(name: string, attention: AttentionForm, overrides: Partial<VitWorkload> = {}): VitWorkload {
  return { ...(loadWorkload(name) as VitWorkload), ...overrides, attention };
}

function gemm(trace: Trace, name: string): GemmOp {
  const op = trace.ops.find((o) => o.name === name);
  if (op?.kind !== 'gemm') throw new Error(`no GEMM ${name}`);
  return op;
}

/**
 * MACs of block 0's score path in a trace: what it takes to get from X̂ to the scores S. Standard:
 * the q and k thirds of qkv, then Q·Kᵀ over all heads; QKR: attn.qkr, then X̂·U_hᵀ over all heads.
 */
function scorePathMacs(trace: Trace): number {
  const qk = opMacs(gemm(trace, 'blocks.0.attn.qk'));
  const qkr = trace.ops.find((o) => o.name === 'blocks.0.attn.qkr');
  return qkr ? opMacs(qkr) + qk : (2 / 3) * opMacs(gemm(trace, 'blocks.0.attn.qkv')) + qk;
}

/** The §6d closed forms, per image: standard 2·C²·T + T²·C, QKR H·C²·T + H·T²·C. */
function scorePathClosedForm(c: number, h: number, t: number, attention: AttentionForm): number {
  return attention === 'qkr' ? h * c * c * t + h * t * t * c : 2 * c * c * t + t * t * c;
}

describe('QKR score-path MACs (../shared/QUANT-METHODS.md §6d, derived from OFQ’s code shapes)', () => {
  it('DeiT-S (C=384, H=6, T=198 with the distillation token): 73,446,912 → 265,503,744 MACs per image, 3.6×', () => {
    // §6d prints 73.4 M → 265.5 M (3.6×); the exact figures are its closed forms at these shapes.
    const standard = scorePathClosedForm(384, 6, 198, 'standard');
    const qkr = scorePathClosedForm(384, 6, 198, 'qkr');
    expect([standard, qkr]).toEqual([73_446_912, 265_503_744]);
    expect((qkr / standard).toFixed(1)).toBe('3.6');
  });

  it('the deit-s trace (T=197, no distillation token) pays the closed form of its own token count in both forms', () => {
    for (const attention of ['standard', 'qkr'] as const) {
      const trace = buildTrace(vit('deit-s', attention), { bits: bits8 });
      expect(scorePathMacs(trace), attention).toBe(scorePathClosedForm(384, 6, 197, attention));
    }
  });

  it('the tiny ViT (C=64, H=4): T=17 0.16 M → 0.35 M, T=50 0.57 M → 1.46 M, counted from its traces', () => {
    // T=17: vit-mnist as shipped (4×4 patches of 7 px + class token); T=50: 7×7 patches of 4 px.
    const cases: [Partial<VitWorkload>, number, number, number, string, string][] = [
      [{}, 17, 157_760, 352_512, '0.16', '0.35'],
      [{ patchSize: 4 }, 50, 569_600, 1_459_200, '0.57', '1.46'],
    ];
    for (const [overrides, tokens, standard, qkr, standardM, qkrM] of cases) {
      const s = buildTrace(vit('vit-mnist', 'standard', overrides), { bits: bits8 });
      const q = buildTrace(vit('vit-mnist', 'qkr', overrides), { bits: bits8 });
      expect(gemm(q, 'blocks.0.attn.qk').m, `T=${tokens}`).toBe(tokens);
      expect([scorePathMacs(s), scorePathMacs(q)]).toEqual([standard, qkr]);
      expect([standard, qkr]).toEqual([scorePathClosedForm(64, 4, tokens, 'standard'), scorePathClosedForm(64, 4, tokens, 'qkr')]);
      expect([(standard / 1e6).toFixed(2), (qkr / 1e6).toFixed(2)]).toEqual([standardM, qkrM]);
    }
  });
});

describe('a QKR trace', () => {
  it('has norm1 → attn.v → attn.qkr → attn.qk → softmax in every block, with the §6d shapes', () => {
    const trace = buildTrace(vit('deit-s', 'qkr'), { bits: bits8, batch: 2 });
    const rows = 2 * 197;
    const block = trace.ops.slice(2, 16).map((o) => o.name);
    expect(block).toEqual(['norm1', 'attn.v', 'attn.qkr', 'attn.qk', 'attn.softmax', 'attn.pv', 'attn.proj', 'residual1', 'norm2', 'mlp.fc1', 'mlp.act', 'mlp.fc2', 'residual2', 'norm1'].map((n, i) => `blocks.${i < 13 ? 0 : 1}.${n}`));
    expect(trace.ops.find((o) => o.name === 'blocks.0.norm1')).toMatchObject({ kind: 'layernorm', rows, cols: 384 });
    expect(gemm(trace, 'blocks.0.attn.v')).toMatchObject({ m: rows, k: 384, n: 384, count: 1, bOperand: 'weight' });
    expect(gemm(trace, 'blocks.0.attn.qkr')).toMatchObject({ m: rows, k: 384, n: 6 * 384, count: 1, bOperand: 'weight' });
    expect(gemm(trace, 'blocks.0.attn.qk')).toMatchObject({ m: 197, k: 384, n: 197, count: 6 * 2, bOperand: 'activation', bQuant: { kind: 'uniform' } });
    expect(gemm(trace, 'blocks.0.attn.pv')).toMatchObject({ m: 197, k: 197, n: 64, count: 12 });
    expect(trace.ops.some((o) => o.name.endsWith('.attn.qkv'))).toBe(false);
    // One more GEMM per block than the standard 148 ops; still a valid trace file.
    expect(traceTotals(trace)).toMatchObject({ ops: 148 + 12, gemms: 74 + 12 });
    expect(() => parseTrace(JSON.parse(formatTrace(trace)), 'qkr.json')).not.toThrow();
  });

  it('totals the standard MACs − 2·C²·T·B − T²·C·B + H·C²·T·B + H·T²·C·B per block, and stores H·C² q/k weights instead of 2·C²', () => {
    const [c, h, t, b, depth] = [384, 6, 197, 3, 12];
    const standard = traceTotals(buildTrace(vit('deit-s', 'standard'), { bits: bits8, batch: b }));
    const qkr = traceTotals(buildTrace(vit('deit-s', 'qkr'), { bits: bits8, batch: b }));
    expect(qkr.macs).toBe(standard.macs + depth * (-2 * c * c * t * b - t * t * c * b + h * c * c * t * b + h * t * t * c * b));
    expect(qkr.weights).toBe(standard.weights + depth * (h * c * c - 2 * c * c));
  });

  it('costs the simulator more cycles than standard attention on DeiT-S (tpu-v1)', () => {
    const arch = loadArch('tpu-v1');
    const standard = simulateTrace(arch, buildTrace(vit('deit-s', 'standard'), { bits: bits8 }));
    const qkr = simulateTrace(arch, buildTrace(vit('deit-s', 'qkr'), { bits: bits8 }));
    expect(qkr.totals.macs - standard.totals.macs).toBe(12 * (scorePathClosedForm(384, 6, 197, 'qkr') - scorePathClosedForm(384, 6, 197, 'standard')));
    expect(qkr.totals.cycles).toBeGreaterThan(standard.totals.cycles);
    const qk = qkr.ops.find((o) => o.name === 'blocks.0.attn.qk');
    expect(qk?.macs).toBe(6 * 197 * 384 * 197);
  });
});

describe('attention in workload descriptions', () => {
  const base = { name: 'x', family: 'vit', source: 'test', imgSize: 224, patchSize: 16, inChans: 3, embedDim: 384, depth: 12, numHeads: 6, mlpRatio: 4, numClasses: 1000 };

  it('defaults to standard and reads qkr', () => {
    expect(parseWorkload(base, 'x.json')).toMatchObject({ attention: 'standard' });
    expect(parseWorkload({ ...base, attention: 'qkr' }, 'x.json')).toMatchObject({ attention: 'qkr' });
    expect(refusal(() => parseWorkload({ ...base, attention: 'qk' }, 'x.json'))).toBe('x.json: attention must be one of "standard", "qkr", got "qk"');
  });

  it('refuses QKR for Swin with one line, in a file and from --attention', () => {
    const swin = { ...loadWorkload('swin-t'), attention: 'qkr' };
    expect(refusal(() => parseWorkload(swin, 's.json'))).toBe('s.json: attention "qkr" is defined for plain ViT blocks (family "vit"), got family "swin"');
    expect(refusal(() => withAttention(loadWorkload('swin-t'), 'qkr', '--attention'))).toBe('--attention qkr is defined for plain ViT blocks (family "vit"), but swin-t is family "swin"');
    expect(withAttention(loadWorkload('swin-t'), 'standard', '--attention')).toEqual(loadWorkload('swin-t'));
    expect(refusal(() => withAttention(loadWorkload('deit-s'), 'qk', 'vitsim simulate: --attention'))).toBe('vitsim simulate: --attention must be one of "standard", "qkr", got "qk"');
  });
});

describe('bit maps on QKR workloads', () => {
  function map(entries: object): string {
    const file = join(dir, `bits-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(entries));
    return file;
  }

  it('give attn.v, attn.qkr and attn.qk their own widths', () => {
    const bits = loadBitsMap(map({ '*.attn.v': { w: 4 }, '*.attn.qkr': { w: 3, a: 6 }, '*.attn.qk': { a: 5 } }), bits8.defaults);
    const trace = buildTrace(vit('vit-mnist', 'qkr'), { bits });
    expect(gemm(trace, 'blocks.2.attn.v')).toMatchObject({ weightBits: 4, actBits: 8 });
    expect(gemm(trace, 'blocks.2.attn.qkr')).toMatchObject({ weightBits: 3, actBits: 6 });
    expect(gemm(trace, 'blocks.2.attn.qk')).toMatchObject({ weightBits: 5, actBits: 5 });
    expect(trace.ops.find((o) => o.name === 'blocks.2.norm1')).toMatchObject({ outBits: 8 });
  });

  it('refuse a qkv pattern on QKR attention (and v/qkr patterns on standard attention) with one line saying why', () => {
    const qkv = map({ 'blocks.*.attn.qkv': { w: 4 } });
    expect(refusal(() => buildTrace(vit('deit-s', 'qkr'), { bits: loadBitsMap(qkv, bits8.defaults) }))).toBe(
      `${qkv}: "blocks.*.attn.qkv" matches no layer of deit-s (its attention is QKR: its blocks have attn.v and attn.qkr instead of attn.qkv; give widths for those)`,
    );
    const qkr = map({ 'blocks.3.attn.qkr': { w: 4 } });
    expect(refusal(() => buildTrace(vit('deit-s', 'standard'), { bits: loadBitsMap(qkr, bits8.defaults) }))).toBe(
      `${qkr}: "blocks.3.attn.qkr" matches no layer of deit-s (attn.v and attn.qkr exist only with QKR attention (workload field attention "qkr" or --attention qkr); this one has attn.qkv)`,
    );
    const typo = map({ 'blocks.*.attn.qvk': { w: 4 } });
    expect(refusal(() => buildTrace(vit('deit-s', 'qkr'), { bits: loadBitsMap(typo, bits8.defaults) }))).toMatch(/matches no layer of deit-s \(layers look like patch_embed.proj, pos_embed, blocks.0.norm1, …\)$/);
  });
});

describe('sweep points on a QKR workload', () => {
  it('put NoisyQuant’s noise and N2UQ’s thresholds on attn.v, the one quantizer that makes X̂ (not on attn.qkr, which reads the same codes)', () => {
    const file = join(dir, 'vit-mnist-qkr.json');
    writeFileSync(file, JSON.stringify({ ...loadWorkload('vit-mnist'), description: 'QKR', attention: 'qkr' }));
    const spec = parseSweep({ name: 'qkr', base: 'edge-16x16', workload: file, axes: [{ name: 'quant.method', values: ['noisyquant', 'n2uq'] }] }, join(dir, 'qkr-sweep.json'));
    for (const [method, kind] of [['noisyquant', 'noisy'], ['n2uq', 'threshold']] as const) {
      const { trace } = designOf(spec, { 'quant.method': method });
      expect(gemm(trace, 'blocks.1.attn.v').actQuant.kind, method).toBe(kind);
      expect(gemm(trace, 'blocks.1.attn.qkr').actQuant.kind, method).toBe('uniform');
      expect(gemm(trace, 'blocks.1.mlp.fc1').actQuant.kind, method).toBe(kind);
    }
  });
});

describe('trace of a quantized QKR model', () => {
  const config: ViTConfig = { imgSize: 28, patchSize: 7, inChans: 1, embedDim: 64, depth: 2, numHeads: 4, mlpRatio: 2, numClasses: 10, mean: [0.5], std: [0.5] };

  function uniform(bits: number, addend?: UniformQuant['addend']): UniformQuant {
    return { kind: 'uniform', bits, signed: true, scale: Float32Array.of(0.05), zeroPoint: 0, ...(addend ? { addend } : {}) };
  }

  /** By hand, as the QKR contract in src/quant/spec.ts describes it: X̂ at 6 bits (noisy), W_v 4-bit, W_qk 3-bit, U 5-bit. */
  function qkrModel(): QuantizedViT {
    const d = config.embedDim;
    const noise = { kind: 'noise' as const, preAdd: new Float32Array(d), postAdd: new Float32Array(d) };
    const xHat = uniform(6, noise);
    const ops = new Map<string, QuantOp>();
    for (const name of quantOpNames(config, 'qkr')) {
      if (name.endsWith('.attn.qk')) {
        ops.set(name, { kind: 'matmul', name, a: xHat, b: uniform(5) });
      } else if (name.endsWith('.attn.pv')) {
        ops.set(name, { kind: 'matmul', name, a: uniform(8), b: uniform(8) });
      } else {
        const shape = linearWeightShape(config, name);
        const wbits = name.endsWith('.attn.v') ? 4 : name.endsWith('.attn.qkr') ? 3 : 8;
        const input: ActQuant = name.endsWith('.attn.v') || name.endsWith('.attn.qkr') ? xHat : uniform(8);
        ops.set(name, {
          kind: 'linear', name, input, bias: new Float32Array(shape[0]),
          weight: { kind: 'uniform', bits: wbits, codes: new Int32Array(shape[0] * shape[1]), shape, scales: Float32Array.of(0.01) },
        });
      }
    }
    return { config, attention: 'qkr', method: 'ofq', options: { wbits: 4, abits: 6 }, floatParams: new Map(), ops, residual: [] };
  }

  it('names attn.v, attn.qkr and attn.qk with the quantizers’ widths, norm1 writing X̂ for attn.v', () => {
    const trace = traceFromQuantized(qkrModel(), { name: 'tiny-qkr', source: 'test' });
    expect(() => parseTrace(JSON.parse(formatTrace(trace)), 'trace')).not.toThrow();
    expect(trace.ops.slice(2, 7).map((o) => o.name)).toEqual(['blocks.0.norm1', 'blocks.0.attn.v', 'blocks.0.attn.qkr', 'blocks.0.attn.qk', 'blocks.0.attn.softmax']);
    expect(trace.ops.find((o) => o.name === 'blocks.0.norm1')).toMatchObject({ inBits: 16, outBits: 6 });
    expect(gemm(trace, 'blocks.1.attn.v')).toMatchObject({ m: 17, k: 64, n: 64, actBits: 6, weightBits: 4, actQuant: { kind: 'noisy' } });
    expect(gemm(trace, 'blocks.1.attn.qkr')).toMatchObject({ m: 17, k: 64, n: 4 * 64, actBits: 6, weightBits: 3, actQuant: { kind: 'uniform' } });
    expect(gemm(trace, 'blocks.1.attn.qk')).toMatchObject({ m: 17, k: 64, n: 17, count: 4, actBits: 6, weightBits: 5, actQuant: { kind: 'uniform' }, bQuant: { kind: 'uniform' } });
    expect(trace.ops.some((o) => o.name.endsWith('.attn.qkv'))).toBe(false);
  });
});

describe('vitsim trace/simulate --attention', () => {
  function vitsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
  }

  it('simulate --attention qkr runs DeiT-S with the QKR ops and reports more cycles than standard attention', () => {
    const run = vitsim('simulate', '--arch', 'tpu-v1', '--workload', 'deit-s', '--attention', 'qkr', '--json');
    expect(run.status).toBe(0);
    const { simulation } = JSON.parse(run.stdout) as { simulation: { ops: { name: string }[]; totals: { cycles: number } } };
    expect(simulation.ops.map((o) => o.name)).toContain('blocks.11.attn.qkr');
    const standard = simulateTrace(loadArch('tpu-v1'), buildTrace(loadWorkload('deit-s'), { bits: bits8 }));
    expect(simulation.totals.cycles).toBeGreaterThan(standard.totals.cycles);
  });

  it('trace writes the QKR ops, and refuses Swin with one line', () => {
    const ok = vitsim('trace', '--model', 'vit-mnist', '--attention', 'qkr');
    expect(ok.status).toBe(0);
    // Standard vit-mnist is 2.427 MMAC and 134.8 k weights (cli.test.ts); each of its 4 blocks adds
    // 352,512 − 157,760 score MACs and 4·64² − 2·64² q/k weights.
    expect(ok.stderr).toBe('vit-mnist, batch 1: 56 ops (30 GEMM, 26 vector), 3.206 MMAC, 167.6 k weight parameters\n');
    const refused = vitsim('trace', '--model', 'swin-t', '--attention', 'qkr');
    expect([refused.status, refused.stderr]).toEqual([2, '--attention qkr is defined for plain ViT blocks (family "vit"), but swin-t is family "swin"\n']);
  });
});
