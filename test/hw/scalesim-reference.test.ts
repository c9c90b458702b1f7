/**
 * vitsim's SCALE-Sim view against SCALE-Sim v2 itself: every figure of 237 reference runs
 * (test/fixtures/scalesim, see PROVENANCE.md there) must come out identical.
 */
import { describe, expect, it } from 'vitest';
import type { ScaleSimConfig } from '../../src/hw/scalesim/config.js';
import { simulateScaleSim, type ScaleSimResult } from '../../src/hw/scalesim/model.js';
import { loadTopology } from '../../src/hw/scalesim/topology.js';
import { referenceRows, SCALESIM_FIXTURES as FIXTURES } from '../fixtures/scalesim/reference.js';

interface ReferenceRun {
  row: Record<string, string>;
  config: ScaleSimConfig;
  result: ScaleSimResult;
}

function loadReference(): ReferenceRun[] {
  return referenceRows().map(({ row, config, gemm }) => ({ row, config, result: simulateScaleSim(config, gemm) }));
}

const runs = loadReference();
const calcRuns = runs.filter((r) => r.row.bw_mode === 'CALC');

/** Reference rows where `actual` differs from the reported column, as readable strings. */
function mismatches(selected: ReferenceRun[], column: string, actual: (r: ScaleSimResult) => number, exact = true): string[] {
  return selected
    .filter(({ row, result }) => {
      const want = Number(row[column]);
      const got = actual(result);
      return exact ? got !== want : Math.abs(got - want) > 1e-12 * Math.abs(want);
    })
    .map(({ row, result }) => `${row.run_key} ${row.layer}: ${column} ${actual(result)} != ${row[column]}`);
}

describe('SCALE-Sim v2 reference runs', () => {
  it('covers all 237 runs, 126 of them in CALC mode', () => {
    expect(runs).toHaveLength(237);
    expect(calcRuns).toHaveLength(126);
  });

  it('compute cycles (total minus stalls) are identical in every run', () => {
    expect(mismatches(runs, 'total_minus_stall', (r) => r.computeCycles)).toEqual([]);
  });

  it('mapping efficiency is bit-identical in every run', () => {
    expect(mismatches(runs, 'mapping_eff_pct', (r) => r.mappingEfficiencyPct)).toEqual([]);
  });

  it('compute utilisation is bit-identical in every run, quirk of the longer ws/is fold included', () => {
    expect(mismatches(runs, 'compute_util_pct', (r) => r.computeUtilPct)).toEqual([]);
  });

  it('SRAM ifmap reads, filter reads and ofmap writes are identical in every run', () => {
    expect(mismatches(runs, 'sram_ifmap_reads', (r) => r.sram.ifmap.count)).toEqual([]);
    expect(mismatches(runs, 'sram_filter_reads', (r) => r.sram.filter.count)).toEqual([]);
    expect(mismatches(runs, 'sram_ofmap_writes', (r) => r.sram.ofmap.count)).toEqual([]);
  });

  it('CALC-mode total cycles, stalls and overall utilisation are identical', () => {
    expect(mismatches(calcRuns, 'total_cycles', (r) => r.totalCycles)).toEqual([]);
    expect(mismatches(calcRuns, 'stall_cycles', (r) => r.stallCycles)).toEqual([]);
    expect(mismatches(calcRuns, 'overall_util_pct', (r) => r.overallUtilPct)).toEqual([]);
  });

  it('CALC-mode DRAM reads and writes are identical', () => {
    expect(mismatches(calcRuns, 'dram_ifmap_reads', (r) => r.dram.ifmap.count)).toEqual([]);
    expect(mismatches(calcRuns, 'dram_filter_reads', (r) => r.dram.filter.count)).toEqual([]);
    expect(mismatches(calcRuns, 'dram_ofmap_writes', (r) => r.dram.ofmap.count)).toEqual([]);
  });

  it('CALC-mode DRAM start and stop cycles are identical', () => {
    for (const op of ['ifmap', 'filter', 'ofmap'] as const) {
      expect(mismatches(calcRuns, `dram_${op}_start_cycle`, (r) => r.dram[op].startCycle)).toEqual([]);
      expect(mismatches(calcRuns, `dram_${op}_stop_cycle`, (r) => r.dram[op].stopCycle)).toEqual([]);
    }
  });

  it('CALC-mode average DRAM bandwidths are bit-identical', () => {
    for (const op of ['ifmap', 'filter', 'ofmap'] as const) {
      expect(mismatches(calcRuns, `avg_${op}_dram_bw`, (r) => r.dramBandwidth[op])).toEqual([]);
    }
  });

  it('the reference topology files parse into the GEMMs the reference ran', () => {
    const shapes = new Set(runs.map(({ row }) => `${row.model}/${row.layer}/${row.M}x${row.K}x${row.N}`));
    for (const model of ['deit_tiny', 'deit_small']) {
      for (const layer of loadTopology(`${FIXTURES}topologies/${model}.csv`)) {
        expect(shapes.has(`${model}/${layer.name}/${layer.gemm.m}x${layer.gemm.k}x${layer.gemm.n}`)).toBe(true);
      }
    }
  });
});
