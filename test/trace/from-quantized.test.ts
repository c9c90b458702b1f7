import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { measureOperandStats } from '../../src/integer/stats.js';
import { loadCalibrationSet } from '../../src/quant/calibration.js';
import { writeQuantizedModel } from '../../src/quant/qmodel-file.js';
import type { QuantLinear, UniformQuant } from '../../src/quant/spec.js';
import { traceFromQuantized } from '../../src/trace/from-quantized.js';
import { formatTrace, parseTrace, readTrace, traceTotals } from '../../src/trace/trace.js';
import { MODEL_FILE, uniformW8A8, variantModel } from '../integer/fixture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vitsim-qtrace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('trace from a quantized model', () => {
  it('carries each GEMM’s real widths and quantizer kinds and the integer engine’s operand statistics, and passes the trace checks', async () => {
    const base = uniformW8A8();
    // fc2 of block 1 at 4 bits: a mixed-precision decision the trace must show.
    const ops = new Map(base.ops);
    const fc2 = ops.get('blocks.1.mlp.fc2') as QuantLinear;
    ops.set('blocks.1.mlp.fc2', { ...fc2, input: { ...(fc2.input as UniformQuant), bits: 4, scale: Float32Array.of((fc2.input as UniformQuant).scale[0] * 16) } });
    const q = variantModel({ ...base, ops });
    const stats = await measureOperandStats(q, loadCalibrationSet('fashion-mnist', 16, 0));
    const trace = traceFromQuantized(q, { name: 'vit-fashion-mnist', source: 'test', stats });
    expect(() => parseTrace(JSON.parse(formatTrace(trace)), 'trace')).not.toThrow();
    const op = (name: string) => trace.ops.find((o) => o.name === name);
    expect(op('blocks.0.attn.pv')).toMatchObject({ actQuant: { kind: 'twin-uniform' }, bQuant: { kind: 'uniform' }, actBits: 8 });
    expect(op('blocks.0.mlp.fc1')).toMatchObject({ actQuant: { kind: 'threshold', levels: 256 } });
    expect(op('blocks.0.attn.proj')).toMatchObject({ actQuant: { kind: 'noisy' } });
    expect(op('blocks.0.mlp.fc2')).toMatchObject({ actQuant: { kind: 'twin-uniform' } });
    expect(op('head')).toMatchObject({ actQuant: { kind: 'uniform' }, actBits: 8, weightBits: 8, accBits: 32 });
    expect(op('blocks.0.norm1')).toMatchObject({ inBits: 16, outBits: 8 });
    for (const o of trace.ops) {
      if (o.kind !== 'gemm') continue;
      expect(o.stats?.a?.zeroFraction).toBeGreaterThanOrEqual(0);
      expect(o.stats?.a?.zeroFraction).toBeLessThanOrEqual(1);
      expect(o.stats?.a?.meanAbs).toBeGreaterThan(0);
      expect(o.stats?.b?.meanAbs).toBeGreaterThan(0);
    }
    // Softmax outputs are mostly tiny: far more zero P codes than zero Q codes.
    const pv = op('blocks.0.attn.pv');
    const qk = op('blocks.0.attn.qk');
    if (pv?.kind !== 'gemm' || qk?.kind !== 'gemm') throw new Error('missing attention ops');
    expect(pv.stats?.a?.zeroFraction).toBeGreaterThan(qk.stats?.a?.zeroFraction ?? 1);
    expect(traceTotals(trace).macs).toBeGreaterThan(0);
  });

  it('shows a 4-bit fc2 input of a uniform model as 4 bits on the GEMM and on the GELU that writes it', () => {
    const base = uniformW8A8();
    const ops = new Map(base.ops);
    const fc2 = ops.get('blocks.1.mlp.fc2') as QuantLinear;
    ops.set('blocks.1.mlp.fc2', { ...fc2, input: { ...(fc2.input as UniformQuant), bits: 4 } });
    const trace = traceFromQuantized({ ...base, ops }, { name: 'm', source: 'test' });
    expect(trace.ops.find((o) => o.name === 'blocks.1.mlp.fc2')).toMatchObject({ actBits: 4, weightBits: 8 });
    expect(trace.ops.find((o) => o.name === 'blocks.1.mlp.act')).toMatchObject({ inBits: 16, outBits: 4 });
    expect(trace.ops.find((o) => o.name === 'blocks.0.mlp.fc2')).toMatchObject({ actBits: 8 });
  });

  it('vitsim trace --model <ckpt> --quant <qmodel> --calib N writes it', () => {
    const qfile = join(dir, 'w8a8.qmodel');
    writeQuantizedModel(qfile, uniformW8A8());
    const out = join(dir, 'trace.json');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'trace', '--model', MODEL_FILE, '--quant', qfile, '--calib', '8', '--out', out], { cwd: ROOT, encoding: 'utf8' });
    expect(run.stderr).toContain('vit-fashion-mnist, batch 1:');
    expect(run.status).toBe(0);
    const trace = readTrace(out);
    expect(trace.ops[0]).toMatchObject({ name: 'patch_embed.proj', actBits: 8, weightBits: 8 });
    expect(trace.ops[0].kind === 'gemm' && trace.ops[0].stats?.a).toBeTruthy();
    const refused = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'trace', '--model', MODEL_FILE, '--quant', qfile, '--calib', '0'], { cwd: ROOT, encoding: 'utf8' });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--calib must be a positive integer');
  });
});
