/**
 * The periodic shortcut of simulateGemm (periodicPlan in src/hw/native.ts: plan a GEMM shortened to a
 * few row folds per column fold and a few column folds, and when the solver's state repeats from one
 * middle row fold, or column fold, to the next, multiply) against the plain one-pass solver over every
 * tile ({ exhaustive: true }).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { UserError } from '../../src/config/errors.js';
import type { Arch, Dataflow } from '../../src/hw/arch.js';
import { loadArch } from '../../src/hw/arch-file.js';
import { newShortcutMemo, simulateGemm } from '../../src/hw/native.js';

function smallArch(rows: number, cols: number, df: Dataflow, sram: { ifmap: number; filter: number; ofmap: number }, bytesPerCycle: number): Arch {
  return {
    name: 'test',
    description: '',
    array: { rows, cols, dataflow: df },
    pe: { actBits: 8, weightBits: 8, accBits: 16 },
    sram: { ifmapBytes: sram.ifmap, filterBytes: sram.filter, ofmapBytes: sram.ofmap },
    // A 1 Hz clock makes the bandwidth in bytes per second the bytes per cycle.
    dram: { type: 'DDR4', bandwidthBytesPerSecond: bytesPerCycle },
    clockHz: 1,
    technologyNodeMetres: 28e-9,
  };
}

/** The result, or the one-line error a user would get. */
function outcome(arch: Arch, gemm: { m: number; k: number; n: number }, exhaustive: boolean): unknown {
  try {
    return simulateGemm(arch, gemm, { exhaustive });
  } catch (error) {
    if (error instanceof UserError) return error.message;
    throw error;
  }
}

describe('periodic shortcut of the native model', () => {
  test('equals the plain one-pass solver on 500 random shapes, SRAM sizes, bandwidths and dataflows', () => {
    // Shapes with more column folds than the shortened GEMM (7): the ones the shortcut may take.
    let longEnough = 0;
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 120 }),
          k: fc.integer({ min: 1, max: 120 }),
          n: fc.integer({ min: 1, max: 120 }),
          rows: fc.integer({ min: 1, max: 12 }),
          cols: fc.integer({ min: 1, max: 12 }),
          dataflow: fc.constantFrom<Dataflow>('os', 'ws', 'is'),
          ifmap: fc.integer({ min: 8, max: 8192 }),
          filter: fc.integer({ min: 8, max: 8192 }),
          ofmap: fc.integer({ min: 16, max: 16384 }),
          bytesPerCycle: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.double({ min: 0.25, max: 40, noNaN: true }), fc.constant(Infinity)),
        }),
        (p) => {
          const arch = smallArch(p.rows, p.cols, p.dataflow, p, p.bytesPerCycle);
          const gemm = { m: p.m, k: p.k, n: p.n };
          const fast = outcome(arch, gemm, false);
          expect(fast).toEqual(outcome(arch, gemm, true));
          if (typeof fast === 'object' && fast !== null && (fast as { colFolds: number }).colFolds > 7) longEnough++;
        },
      ),
      { numRuns: 500, seed: 20261123 },
    );
    expect(longEnough).toBeGreaterThan(50);
  });

  test('equals the plain one-pass solver on 400 random shapes with many row folds (and often many column folds)', () => {
    // At least 28 row folds (4 × the shortened GEMM's 7) in every case: the row shortcut is tried first.
    let both = 0;
    fc.assert(
      fc.property(
        fc.record({
          rows: fc.integer({ min: 1, max: 8 }),
          cols: fc.integer({ min: 1, max: 8 }),
          rowFolds: fc.integer({ min: 28, max: 50 }),
          colFolds: fc.integer({ min: 1, max: 20 }),
          lastRows: fc.integer({ min: 1, max: 8 }),
          lastCols: fc.integer({ min: 1, max: 8 }),
          temporal: fc.integer({ min: 1, max: 60 }),
          dataflow: fc.constantFrom<Dataflow>('os', 'ws', 'is'),
          ifmap: fc.integer({ min: 8, max: 8192 }),
          filter: fc.integer({ min: 8, max: 8192 }),
          ofmap: fc.integer({ min: 16, max: 16384 }),
          bytesPerCycle: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.double({ min: 0.25, max: 40, noNaN: true }), fc.constant(Infinity)),
        }),
        (p) => {
          const arch = smallArch(p.rows, p.cols, p.dataflow, p, p.bytesPerCycle);
          const spatialRows = (p.rowFolds - 1) * p.rows + Math.min(p.lastRows, p.rows);
          const spatialCols = (p.colFolds - 1) * p.cols + Math.min(p.lastCols, p.cols);
          const dims = { os: ['m', 'n', 'k'], ws: ['k', 'n', 'm'], is: ['k', 'm', 'n'] }[p.dataflow];
          const gemm = { [dims[0]]: spatialRows, [dims[1]]: spatialCols, [dims[2]]: p.temporal } as { m: number; k: number; n: number };
          const fast = outcome(arch, gemm, false);
          expect(fast).toEqual(outcome(arch, gemm, true));
          if (typeof fast === 'object' && fast !== null && (fast as { colFolds: number }).colFolds > 7) both++;
        },
      ),
      { numRuns: 400, seed: 20261124 },
    );
    expect(both).toBeGreaterThan(50);
  });

  test('equals the plain one-pass solver on every DeiT-B GEMM shape on every shipped preset', () => {
    const shapes = [
      [197, 768, 2304],
      [197, 768, 768],
      [197, 768, 3072],
      [197, 3072, 768],
      [197, 64, 197],
      [197, 197, 64],
      [1, 768, 1000],
      [196, 768, 768],
    ];
    for (const preset of ['tpu-v1', 'mid-32x32', 'edge-16x16', 'bitfusion-16x32']) {
      const arch = loadArch(preset);
      for (const [m, k, n] of shapes) {
        for (const dataflow of ['os', 'ws', 'is'] as const) {
          expect(outcome(arch, { m, k, n }, false), `${preset} ${m}x${k}x${n} ${dataflow}`).toEqual(outcome(arch, { m, k, n }, true));
        }
      }
    }
  });

  test('a memo shared between GEMMs (shortened to the same GEMM or not) changes no result, whatever the order', () => {
    const shapes = [
      [197, 768, 2304],
      [197, 768, 768],
      [197, 768, 3072],
      [197, 3072, 768],
      [196, 768, 768],
      [1, 768, 1000],
      [197, 64, 197],
    ].map(([m, k, n]) => ({ m, k, n }));
    let shared = 0;
    for (const preset of ['tpu-v1', 'mid-32x32', 'edge-16x16', 'bitfusion-16x32']) {
      const arch = loadArch(preset);
      for (const dataflow of ['os', 'ws', 'is'] as const) {
        for (const order of [shapes, [...shapes].reverse()]) {
          const memo = newShortcutMemo();
          for (const gemm of order) {
            const before = memo.size;
            const withMemo = simulateGemm(arch, gemm, { dataflow, outputBits: 4, memo });
            // A GEMM with more column folds than the shortened one (7) tries the shortcut: it adds an entry unless it found one.
            if (withMemo.colFolds > 7 && memo.size === before) shared++;
            expect(withMemo, `${preset} ${gemm.m}x${gemm.k}x${gemm.n} ${dataflow}`).toEqual(simulateGemm(arch, gemm, { dataflow, outputBits: 4 }));
          }
        }
      }
    }
    // DeiT's qkv, proj and fc1 shorten to the same GEMM on most designs: the memo is used, not just filled.
    expect(shared).toBeGreaterThan(10);
  });
});
