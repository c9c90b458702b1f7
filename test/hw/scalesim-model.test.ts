/**
 * The SCALE-Sim model on inputs far from the reference runs: any valid config and GEMM gives finite,
 * consistent figures, and even absurd layers take milliseconds at most.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ScaleSimConfig } from '../../src/hw/scalesim/config.js';
import { foldAverages, simulateScaleSim } from '../../src/hw/scalesim/model.js';
import { foldMapping } from '../../src/hw/fold.js';

const config = fc.record({
  runName: fc.constant('gen'),
  arrayRows: fc.integer({ min: 1, max: 512 }),
  arrayCols: fc.integer({ min: 1, max: 512 }),
  ifmapSramKB: fc.integer({ min: 1, max: 4096 }),
  filterSramKB: fc.integer({ min: 1, max: 4096 }),
  ofmapSramKB: fc.integer({ min: 1, max: 4096 }),
  ifmapOffset: fc.constant(0),
  filterOffset: fc.constant(10_000_000),
  ofmapOffset: fc.constant(20_000_000),
  dataflow: fc.constantFrom('os' as const, 'ws' as const, 'is' as const),
  interfaceBandwidth: fc.constantFrom('CALC' as const, 'USER' as const),
  bandwidthWordsPerCycle: fc.integer({ min: 1, max: 256 }),
});
const gemm = fc.record({ m: fc.integer({ min: 1, max: 5_000 }), k: fc.integer({ min: 1, max: 5_000 }), n: fc.integer({ min: 1, max: 5_000 }) });

describe('SCALE-Sim model beyond the reference runs', () => {
  it('gives finite, consistent figures for any valid config and GEMM', () => {
    fc.assert(
      fc.property(config, gemm, (c: ScaleSimConfig, g) => {
        const r = simulateScaleSim(c, g);
        expect(r.totalCycles).toBe(r.computeCycles + r.stallCycles);
        expect(r.computeCycles).toBe(r.mapping.folds * r.mapping.cyclesPerFold - 1);
        expect(r.stallCycles).toBeGreaterThanOrEqual(0);
        if (c.interfaceBandwidth === 'CALC') expect(r.stallCycles).toBe(0);
        expect(r.mappingEfficiencyPct).toBeGreaterThan(0);
        expect(r.mappingEfficiencyPct).toBeLessThanOrEqual(100 + 1e-9);
        expect(r.computeUtilPct).toBeLessThanOrEqual(r.mappingEfficiencyPct + 1e-9);
        expect(r.dram.ifmap.count).toBeGreaterThanOrEqual(g.m * g.k);
        expect(r.dram.ifmap.count).toBeLessThanOrEqual(r.sram.ifmap.count);
        expect(r.dram.filter.count).toBeGreaterThanOrEqual(g.k * g.n);
        expect(r.dram.filter.count).toBeLessThanOrEqual(r.sram.filter.count);
        for (const value of [r.overallUtilPct, r.dramBandwidth.ifmap, r.dramBandwidth.filter, r.dramBandwidth.ofmap, r.dram.ofmap.stopCycle]) {
          expect(Number.isFinite(value)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('takes milliseconds even for a 50k³ GEMM on a 1x1 array with 1 kB buffers', () => {
    const tiny: ScaleSimConfig = {
      runName: 'tiny', arrayRows: 1, arrayCols: 1, ifmapSramKB: 1, filterSramKB: 1, ofmapSramKB: 1, ifmapOffset: 0, filterOffset: 1, ofmapOffset: 2,
      dataflow: 'os', interfaceBandwidth: 'USER', bandwidthWordsPerCycle: 3,
    };
    for (const dataflow of ['os', 'ws', 'is'] as const) {
      const t0 = performance.now();
      const r = simulateScaleSim({ ...tiny, dataflow }, { m: 50_000, k: 50_000, n: 50_000 });
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(r.mapping.folds).toBe(50_000 * 50_000);
      expect(Number.isFinite(r.dram.ofmap.count)).toBe(true);
    }
  });

  it('averages over folds in closed form when there are too many to sum, within rounding of the sum', () => {
    const mapping = foldMapping({ m: 197, k: 384, n: 1536 }, { rows: 3, cols: 5, dataflow: 'ws' });
    const summed = foldAverages(mapping);
    const used = mapping.spatialRows * mapping.spatialCols;
    expect(summed.mappingEfficiency).toBeCloseTo(used / (mapping.folds * 15), 12);
  });
});
