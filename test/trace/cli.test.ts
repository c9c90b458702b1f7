import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readTrace } from '../../src/trace/trace.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vitsim-trace-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI from source (tsx), as a user would run the built one. */
function vitsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('vitsim trace', () => {
  it('writes a DeiT-S trace at W8A8 and says how large it is', () => {
    const out = join(dir, 'deit-s.json');
    const run = vitsim('trace', '--model', 'deit-s', '--wbits', '8', '--abits', '8', '--out', out);
    expect(run.stderr).toBe('deit-s, batch 1: 148 ops (74 GEMM, 74 vector), 4.599 GMAC, 21.91 M weight parameters, published 4.6 GMAC\n');
    expect(run.status).toBe(0);
    const trace = readTrace(out);
    expect(trace).toMatchObject({ model: 'deit-s', batch: 1 });
    expect(trace.ops[0]).toMatchObject({ name: 'patch_embed.proj', actBits: 8, weightBits: 8, accBits: 32 });
  });

  it('prints the trace on stdout with a per-layer map and a batch', () => {
    const map = join(dir, 'bits.json');
    writeFileSync(map, JSON.stringify({ 'layers.*.mlp.fc2': { a: 4 } }));
    const run = vitsim('trace', '--model', 'swin-t', '--batch', '2', '--bits', map, '--acc-bits', '24');
    expect(run.status).toBe(0);
    const trace = JSON.parse(run.stdout) as { batch: number; ops: { name: string; actBits?: number; accBits?: number }[] };
    expect(trace.batch).toBe(2);
    expect(trace.ops.find((op) => op.name === 'layers.2.blocks.5.mlp.fc2')).toMatchObject({ actBits: 4, accBits: 24 });
  });

  it('--check summarises a valid trace and refuses a malformed one with one line naming op and field', () => {
    const file = join(dir, 'check.json');
    expect(vitsim('trace', '--model', 'vit-mnist', '--out', file).status).toBe(0);
    const ok = vitsim('trace', '--check', file);
    expect([ok.status, ok.stdout]).toEqual([0, `${file}: vit-mnist, batch 1: 52 ops (26 GEMM, 26 vector), 2.427 MMAC, 134.8 k weight parameters\n`]);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"accBits":32', '"accBits":0'));
    const bad = vitsim('trace', '--check', file);
    expect([bad.status, bad.stderr]).toEqual([2, `${file}: ops[0].accBits must be >= 1, got 0\n`]);
  });

  it('refuses bad bits and unknown models with one line and exit code 2', () => {
    const bad = vitsim('trace', '--model', 'deit-s', '--abits', '33');
    expect([bad.status, bad.stderr]).toEqual([2, '--abits must be an integer from 1 to 32, got 33\n']);
    const unknown = vitsim('trace', '--model', 'deit-xl');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^model "deit-xl" is neither a workload file nor a shipped description \(shipped: deit-b, deit-s, .*\)\n$/);
  });
});
