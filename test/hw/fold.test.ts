import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cyclesPerFold, foldMapping, foldShape } from '../../src/hw/fold.js';
import { checkGemm } from '../../src/hw/gemm.js';
import { UserError } from '../../src/config/errors.js';
import type { Dataflow } from '../../src/hw/arch.js';

describe('fold mapping', () => {
  it('puts M on the rows, N on the columns and streams K for output stationary', () => {
    const f = foldMapping({ m: 197, k: 384, n: 1152 }, { rows: 32, cols: 32, dataflow: 'os' });
    expect([f.spatialRows, f.spatialCols, f.temporal]).toEqual([197, 1152, 384]);
    expect([f.rowFolds, f.colFolds, f.folds]).toEqual([7, 36, 252]);
    expect(f.lastFoldRows).toBe(5);
    expect(f.cyclesPerFold).toBe(384 + 32 + 32 - 2);
  });

  it('puts K on the rows and N on the columns and streams M for weight stationary', () => {
    const f = foldMapping({ m: 197, k: 64, n: 197 }, { rows: 8, cols: 8, dataflow: 'ws' });
    expect([f.spatialRows, f.spatialCols, f.temporal]).toEqual([64, 197, 197]);
    expect(f.cyclesPerFold).toBe(2 * 8 + 8 + 197 - 2);
  });

  it('puts K on the rows and M on the columns and streams N for input stationary', () => {
    const f = foldMapping({ m: 196, k: 768, n: 192 }, { rows: 8, cols: 8, dataflow: 'is' });
    expect([f.rowFolds, f.colFolds]).toEqual([96, 25]);
    expect(f.computeCycles).toBe(2400 * 214);
  });

  it('mapping efficiency is the mean over folds of the PEs in use', () => {
    const dataflows: Dataflow[] = ['os', 'ws', 'is'];
    fc.assert(
      fc.property(
        fc.record({ m: fc.integer({ min: 1, max: 300 }), k: fc.integer({ min: 1, max: 300 }), n: fc.integer({ min: 1, max: 300 }) }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(...dataflows),
        (gemm, rows, cols, dataflow) => {
          const f = foldMapping(gemm, { rows, cols, dataflow });
          let used = 0;
          for (let c = 0; c < f.colFolds; c++) {
            for (let r = 0; r < f.rowFolds; r++) {
              const { usedRows, usedCols } = foldShape(f, r, c);
              if (usedRows <= 0 || usedCols <= 0) throw new Error(`empty fold ${r},${c}`);
              used += usedRows * usedCols;
            }
          }
          expect(used).toBe(f.spatialRows * f.spatialCols);
          expect(f.mappingEfficiency).toBeCloseTo(used / (f.folds * rows * cols), 12);
          expect(f.computeUtilisation).toBeLessThanOrEqual(f.mappingEfficiency);
          expect(f.computeCycles).toBe(f.folds * cyclesPerFold(dataflow, rows, cols, f.temporal));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a GEMM with a zero, negative or fractional size, naming where it came from', () => {
    expect(() => checkGemm({ m: 0, k: 1, n: 1 }, 'topo.csv: row 2')).toThrow(UserError);
    expect(() => checkGemm({ m: 1, k: -3, n: 1 }, 'topo.csv: row 2')).toThrow('topo.csv: row 2: K must be a positive integer, got -3');
    expect(() => checkGemm({ m: 1, k: 1, n: 1.5 }, 'x')).toThrow(UserError);
    expect(checkGemm({ m: 1, k: 2, n: 3 }, 'x')).toEqual({ m: 1, k: 2, n: 3 });
  });
});
