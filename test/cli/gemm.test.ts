import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadArch } from '../../src/hw/arch-file.js';
import { simulateGemm } from '../../src/hw/native.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs the CLI from source (tsx), as a user would run the built one, with stdout, stderr and the exit code. */
function vitsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('vitsim gemm', () => {
  it('prints the native figures as JSON, identical to simulateGemm, with SCALE-Sim compute cycles one less', () => {
    const run = vitsim('gemm', '--arch', 'edge-16x16', '--m', '197', '--k', '384', '--n', '1536', '--dataflow', 'ws', '--json');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as { arch: string; native: unknown; scalesim: { computeCycles: number } };
    const expected = simulateGemm(loadArch('edge-16x16'), { m: 197, k: 384, n: 1536 }, { dataflow: 'ws' });
    expect(report.arch).toBe('edge-16x16');
    expect(report.native).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(report.scalesim.computeCycles).toBe(expected.computeCycles - 1);
  });

  it('prints a table with both views by default, the dataflow from the arch unless overridden', () => {
    const run = vitsim('gemm', '--arch', 'mid-32x32', '--m', '197', '--k', '64', '--n', '197');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^mid-32x32: out\[197,197\] = in\[197,64\] · w\[64,197\] on 32x32 ws/);
    // 2 K folds x 7 N folds of 2·32 + 32 + 197 − 2 = 291 cycles = 4,074; SCALE-Sim's a32 ws reference run says 4,073.
    expect(run.stdout).toMatch(/compute cycles +4,074 +4,073/);
    expect(run.stdout).toMatch(/stall cycles/);
    expect(run.stdout).toMatch(/DRAM ifmap read \(B\)/);
  });

  it.each([
    [['--dataflow', 'xs'], /^vitsim gemm: --dataflow must be one of os, ws, is, got "xs"$/],
    [['--m', '0'], /^vitsim gemm: M must be a positive integer, got 0$/],
    [['--k', '-3'], /^vitsim gemm: K must be a positive integer, got -3$/],
    [['--bandwidth', '0 GB/s'], /^vitsim gemm: --bandwidth must be a bandwidth such as "25.6 GB\/s" greater than zero, got "0 GB\/s"$/],
  ])('refuses %j with exit code 2 and one line', (override, message) => {
    const args: Record<string, string> = { '--arch': 'edge-16x16', '--m': '8', '--k': '8', '--n': '8' };
    for (let i = 0; i < override.length; i += 2) args[override[i]] = override[i + 1];
    const run = vitsim('gemm', ...Object.entries(args).flat());
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr.trimEnd()).toMatch(message);
  });

  it('refuses an arch file whose DRAM bandwidth is zero, naming the file and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitsim-gemm-'));
    const file = join(dir, 'zero-bw.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'zero-bw',
        array: { rows: 4, cols: 4, dataflow: 'os' },
        pe: { actBits: 8, weightBits: 8, accBits: 24 },
        sram: { ifmap: '1 KiB', filter: '1 KiB', ofmap: '1 KiB' },
        dram: { type: 'DDR4', bandwidth: '0 GB/s' },
        clock: '1 GHz',
        technology: '28 nm',
      }),
    );
    const run = vitsim('gemm', '--arch', file, '--m', '8', '--k', '8', '--n', '8');
    expect(run.status).toBe(2);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/zero-bw\.json: dram\.bandwidth must be .* greater than zero, got "0 GB\/s"/);
  });
});
