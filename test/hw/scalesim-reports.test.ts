/**
 * SCALE-Sim's report files as vitsim writes them: same headers, same ", "-separated fields with a
 * trailing comma, numbers printed as Python prints them, and the values of the reference runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadScaleSimConfig, loadTopology, scaleSimReports, simulateScaleSim } from '../../src/hw/scalesim/index.js';
import { pyFloat } from '../../src/hw/scalesim/reports.js';
import { scalesimCommand } from '../../src/cli/scalesim.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/scalesim/');

describe('SCALE-Sim report files', () => {
  it('prints floats as Python str() does', () => {
    expect(pyFloat(98)).toBe('98.0');
    expect(pyFloat(-3275)).toBe('-3275.0');
    expect(pyFloat(87.92540483918388)).toBe('87.92540483918388');
    expect(pyFloat(0.00012)).toBe('0.00012');
    expect(pyFloat(0.000012)).toBe('1.2e-05');
    expect(pyFloat(1e16)).toBe('1e+16');
    expect(pyFloat(123456789012345680)).toBe('1.2345678901234568e+17');
    expect(pyFloat(1234567890123456)).toBe('1234567890123456.0');
    expect(pyFloat(0)).toBe('0.0');
    expect(pyFloat(-0.5)).toBe('-0.5');
  });

  it('prints every float so that it reads back to the same number', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
      expect(Number(pyFloat(x))).toBe(x);
    }), { numRuns: 2000 });
  });

  it("writes SCALE-Sim's headers and rows for the 32x32 output-stationary DeiT-Small run", () => {
    const config = loadScaleSimConfig(join(FIXTURES, 'configs/a32_os_calc.cfg'));
    const results = loadTopology(join(FIXTURES, 'topologies/deit_small.csv')).map((l) => simulateScaleSim(config, l.gemm));
    const reports = scaleSimReports(results);
    const compute = reports['COMPUTE_REPORT.csv'].split('\n');
    expect(compute[0]).toBe('LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %,');
    expect(compute[1]).toBe('0, 69719, 0, 80.9650167099356, 87.5, 80.96385542168673,');
    expect(compute).toHaveLength(results.length + 2);
    expect(reports['BANDWIDTH_REPORT.csv'].split('\n')[0]).toBe(
      'LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, Avg IFMAP DRAM BW, Avg FILTER DRAM BW, Avg OFMAP DRAM BW,',
    );
    const detail = reports['DETAILED_ACCESS_REPORT.csv'].split('\n');
    expect(detail[0].split(', ')).toHaveLength(19);
    // Reference row for patch_embed: DRAM ifmap -3275.0 … 68781.0, 1806336 reads; ofmap 30674.0 … 70023.0, 75295 writes.
    expect(detail[1]).toContain(', -3275.0, 68781.0, 1806336, -3275.0, 64181.0, 384826, 30674.0, 70023.0, 75295,');
  });

  it('vitsim scalesim writes the three reports into the output folder', async () => {
    const out = mkdtempSync(join(tmpdir(), 'vitsim-scalesim-'));
    const args = { config: join(FIXTURES, 'configs/a8_ws_calc.cfg'), topology: join(FIXTURES, 'topologies/deit_tiny.csv'), output: out, json: false, _: [], $0: 'vitsim' };
    const write = process.stdout.write;
    process.stdout.write = () => true;
    try {
      await scalesimCommand.handler(args);
    } finally {
      process.stdout.write = write;
    }
    expect(readFileSync(join(out, 'COMPUTE_REPORT.csv'), 'utf8').split('\n')[1]).toBe('0, 502271, 0, 89.9084358842139, 100.0, 87.11111111110878,');
    expect(readFileSync(join(out, 'DETAILED_ACCESS_REPORT.csv'), 'utf8').split('\n')).toHaveLength(9);
    expect(readFileSync(join(out, 'BANDWIDTH_REPORT.csv'), 'utf8').split('\n')).toHaveLength(9);
  });

  it('vitsim scalesim refuses a missing file with one line and exit code 2', () => {
    const missing = join(FIXTURES, 'nope.csv');
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'scalesim', '-c', join(FIXTURES, 'configs/a8_ws_calc.cfg'), '-t', missing, '-o', tmpdir()], { encoding: 'utf8', cwd: ROOT });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([`${missing}: cannot read file (no such file)`]);
  });
});
