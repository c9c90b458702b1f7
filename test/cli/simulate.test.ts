import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadArch } from '../../src/hw/arch-file.js';
import { simulateTrace } from '../../src/hw/simulate.js';
import { uniformBits } from '../../src/trace/bits.js';
import { buildTrace } from '../../src/trace/build.js';
import { formatTrace } from '../../src/trace/trace.js';
import { loadWorkload } from '../../src/trace/workload.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vitsim-simulate-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI from source (tsx), as a user would run the built one. */
function vitsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

interface Report {
  simulation: { totals: { cycles: number }; ops: { cycles: number }[] };
  cost: { technology: { nodeMetres: number }; energyPerInferenceJ: number; area: { totalM2: number } };
}

const deitT = buildTrace(loadWorkload('deit-t'), { bits: uniformBits(8, 8) });

describe('vitsim simulate', () => {
  it('--json prints exactly simulateTrace of the model, and --tech 7nm re-prices that same simulation', () => {
    const at28 = vitsim('simulate', '--arch', 'mid-32x32', '--workload', 'deit-t', '--json');
    expect(at28.stderr).toBe('');
    expect(at28.status).toBe(0);
    const report = JSON.parse(at28.stdout) as Report;
    expect(report.simulation).toEqual(JSON.parse(JSON.stringify(simulateTrace(loadArch('mid-32x32'), deitT))));
    const at7 = JSON.parse(vitsim('simulate', '--arch', 'mid-32x32', '--workload', 'deit-t', '--json', '--tech', '7nm').stdout) as Report;
    expect(at7.simulation).toEqual(report.simulation);
    expect(at7.cost.technology.nodeMetres).toBeCloseTo(7e-9, 18);
    expect(at7.cost.energyPerInferenceJ).toBeLessThan(report.cost.energyPerInferenceJ);
    expect(at7.cost.area.totalM2).toBeLessThan(report.cost.area.totalM2);
  });

  it('prints per-op rows and the totals by default, and writes one CSV row per op plus a total row', () => {
    const csv = join(dir, 'ops.csv');
    const run = vitsim('simulate', '--arch', 'tpu-v1', '--workload', 'deit-t', '--csv', csv);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^deit-t, batch 1, on tpu-v1 \(256x256 ws, fixed PE, 700 MHz, overlap serial\)\n/);
    // DeiT-T on tpu-v1: qkv's 110,592 B of weights take 2,277 cycles at 48.57 B/cycle, under its 3 folds × 963 = 2,889 compute cycles;
    // fc1's 147,456 B take 3,036 cycles, over them.
    expect(run.stdout).toMatch(/\n +3 +blocks\.0\.attn\.qkv +gemm +[\d,]+ +[\d,]+ +0 +[\d.]+% +compute /);
    expect(run.stdout).toMatch(/\n +10 +blocks\.0\.mlp\.fc1 +gemm +[\d,]+ +[\d,]+ +0 +[\d.]+% +memory /);
    for (const line of [/^cycles +[\d,]+ = sum of the ops/m, /^latency +[\d.]+ [mµ]s at 700 MHz/m, /^throughput +[\d.]+ inferences\/s/m, /^effective .* TOPS .*; peak 91\.75 TOPS at the PEs. 8x8-bit widths$/m,
      /^energy +[\d.]+ [mµ]J per inference at 28 nm/m, /^power +[\d.]+ W/m, /^efficiency +[\d.]+ TOPS\/W/m, /zero gating: off/m, /^ +sram ifmap .* mm²/m, /^ +total [\d.]+ mm² at 28 nm/m]) {
      expect(run.stdout).toMatch(line);
    }
    // No field holds a comma (layer names, kinds, widths and numbers), so a split reads the file.
    const [header, ...lines] = readFileSync(csv, 'utf8').trimEnd().split('\n').map((l) => l.split(','));
    const rows = lines.map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i]])));
    expect(rows).toHaveLength(deitT.ops.length + 1);
    expect(rows[3]).toMatchObject({ name: 'blocks.0.attn.qkv', kind: 'gemm', bound: 'compute', mac_widths: 'a8w8', dram_read_bytes: '110592', dram_write_bytes: '0' });
    const total = rows[rows.length - 1];
    expect(total.name).toBe('total');
    expect(Number(total.cycles)).toBe(rows.slice(0, -1).reduce((s, r) => s + Number(r.cycles), 0));
    for (const column of ['sram_ifmap_reads', 'sram_filter_writes', 'sram_ofmap_bits', 'dram_read_bytes', 'comparisons', 'noise_additions', 'noise_table_reads', 'lane_multiply', 'twin_shifts', 'energy_j']) {
      expect(Object.keys(total)).toContain(column);
    }
  });

  it.each([
    ['an unknown op', 3, (op: Record<string, unknown>) => { op.kind = 'conv'; }, /^t\.json: ops\[3\]\.kind must be one of "gemm", .*got "conv"$/],
    ['a negative shape', 12, (op: Record<string, unknown>) => { op.m = -3; }, /^t\.json: ops\[12\]\.m must be >= 1, got -3$/],
    ['bits 0', 0, (op: Record<string, unknown>) => { op.weightBits = 0; }, /^t\.json: ops\[0\]\.weightBits must be >= 1, got 0$/],
    ['bits above 32', 4, (op: Record<string, unknown>) => { op.actBits = 33; }, /^t\.json: ops\[4\]\.actBits must be <= 32, got 33$/],
    ['a missing field', 5, (op: Record<string, unknown>) => { delete op.count; }, /^t\.json: ops\[5\]\.count is required but missing$/],
  ])('a trace with %s is refused with one line naming the op index and the field, exit 2', (_what, index, edit, message) => {
    const trace = JSON.parse(formatTrace(deitT)) as { ops: Record<string, unknown>[] };
    edit(trace.ops[index]);
    const file = join(dir, 't.json');
    writeFileSync(file, JSON.stringify(trace));
    const run = vitsim('simulate', '--arch', 'tpu-v1', '--workload', file);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr.trimEnd().replace(file, 't.json')).toMatch(message);
  });

  it('simulates a trace file as written, and refuses width flags for it', () => {
    const file = join(dir, 'deit-t.json');
    writeFileSync(file, formatTrace(deitT));
    expect(vitsim('simulate', '--arch', 'edge-16x16', '--workload', file).status).toBe(0);
    const run = vitsim('simulate', '--arch', 'edge-16x16', '--workload', file, '--wbits', '4');
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`vitsim simulate: --wbits applies to models, but ${file} is a trace (its widths and batch are fixed)\n`);
  });

  it('shows measured operand sparsity per op and what zero gating saved, when the trace carries statistics', () => {
    const trace = JSON.parse(formatTrace(deitT)) as { ops: Record<string, unknown>[] };
    for (const op of trace.ops) if (op.kind === 'gemm') op.stats = { a: { zeroFraction: 0.4, meanAbs: 5 } };
    const file = join(dir, 'sparse.json');
    writeFileSync(file, JSON.stringify(trace));
    const run = vitsim('simulate', '--arch', 'bitfusion-16x32', '--workload', file);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/ zero-op MACs /);
    expect(run.stdout).toMatch(/\n +3 +blocks\.0\.attn\.qkv +gemm .* 40\.0% /);
    expect(run.stdout).toMatch(/zero gating: 40% of 1\.254e\+9 MACs had a zero operand and were gated, saving [\d.]+ µJ in the PE array/);
  });

  it('refuses a DDR4 design, an unknown node and a supply outside 0.6–1.1 V with one line, exit 2', () => {
    const file = join(dir, 'ddr4.json');
    const design = JSON.parse(readFileSync(join(ROOT, 'arch/mid-32x32.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...design, $schema: undefined, dram: { type: 'DDR4', bandwidth: '25.6 GB/s' } }));
    for (const [args, message] of [
      [['--arch', file], 'mid-32x32: dram.type DDR4 has no energy-per-bit row; priced types are LPDDR4, DDR3, GDDR5, HBM2, HMC'],
      [['--arch', 'mid-32x32', '--tech', '12nm'], 'mid-32x32: technology 12 nm is not in the Stillmaker–Baas table; priced nodes are 45, 32, 28, 22, 20, 16, 14, 10, 7 nm'],
      [['--arch', 'mid-32x32', '--voltage', '1.3V'], 'mid-32x32: supply 1.3 V is outside 0.6–1.1 V, the range vitsim prices with the Stillmaker–Baas voltage fits'],
    ] as const) {
      const run = vitsim('simulate', ...args, '--workload', 'deit-t');
      expect(run.status).toBe(2);
      expect(run.stderr).toBe(`${message}\n`);
    }
  });
});
