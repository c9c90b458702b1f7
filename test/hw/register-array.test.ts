/**
 * The register-level array against the two things it has to prove: a plain integer matmul for the
 * values, and the analytical models for the cycles (both count from the origin in docs/cycle-model.md).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { UserError } from '../../src/config/errors.js';
import type { Arch, Dataflow } from '../../src/hw/arch.js';
import { foldMapping } from '../../src/hw/fold.js';
import type { Gemm } from '../../src/hw/gemm.js';
import { planMemory, simulateGemm } from '../../src/hw/native.js';
import { runRegisterArray } from '../../src/hw/register-array.js';

function matmul(g: Gemm, a: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const out = new Float64Array(g.m * g.n);
  for (let i = 0; i < g.m; i++) {
    for (let j = 0; j < g.n; j++) {
      let sum = 0;
      for (let q = 0; q < g.k; q++) sum += a[i * g.k + q] * w[q * g.n + j];
      out[i * g.n + j] = sum;
    }
  }
  return out;
}

const dim = fc.integer({ min: 1, max: 16 });
const dataflow = fc.constantFrom<Dataflow>('os', 'ws', 'is');
/** A shape, an array and int8 operands of that shape. */
const problem = fc
  .record({ m: dim, k: dim, n: dim, rows: dim, cols: dim, dataflow })
  .chain((p) =>
    fc.record({
      p: fc.constant(p),
      a: fc.array(fc.integer({ min: -128, max: 127 }), { minLength: p.m * p.k, maxLength: p.m * p.k }),
      w: fc.array(fc.integer({ min: -128, max: 127 }), { minLength: p.k * p.n, maxLength: p.k * p.n }),
    }),
  );

function smallArch(
  rows: number,
  cols: number,
  df: Dataflow,
  sram: { ifmap: number; filter: number; ofmap: number },
  bytesPerCycle: number,
  pe = { actBits: 8, weightBits: 8, accBits: 16 },
): Arch {
  return {
    name: 'test',
    description: '',
    array: { rows, cols, dataflow: df },
    pe,
    sram: { ifmapBytes: sram.ifmap, filterBytes: sram.filter, ofmapBytes: sram.ofmap },
    // A 1 Hz clock makes the bandwidth in bytes per second the bytes per cycle.
    dram: { type: 'DDR4', bandwidthBytesPerSecond: bytesPerCycle },
    clockHz: 1,
    technologyNodeMetres: 28e-9,
  };
}

describe('register-level systolic array', () => {
  test('computes exactly the integer matmul and takes exactly folds × cyclesPerFold cycles, for every small shape and dataflow', () => {
    let runs = 0;
    fc.assert(
      fc.property(problem, ({ p, a, w }) => {
        const gemm = { m: p.m, k: p.k, n: p.n };
        const array = { rows: p.rows, cols: p.cols, dataflow: p.dataflow };
        const run = runRegisterArray(gemm, a, w, array);
        const mapping = foldMapping(gemm, array);
        expect(Array.from(run.out)).toEqual(Array.from(matmul(gemm, a, w)));
        expect(run.cycles).toBe(mapping.computeCycles);
        expect(run.stallCycles).toBe(0);
        expect(run.foldCycles).toEqual(new Array(mapping.folds).fill(mapping.cyclesPerFold));
        runs++;
      }),
      { numRuns: 3000 },
    );
    expect(runs).toBe(3000);
  });

  test('a fold on a 1×1 array is one MAC per cycle: OS takes K cycles, WS/IS take 2 + K', () => {
    const g = { m: 1, k: 3, n: 1 };
    for (const df of ['os', 'ws', 'is'] as const) {
      const run = runRegisterArray(g, [1, 2, 3], [4, 5, 6], { rows: 1, cols: 1, dataflow: df });
      expect(run.out[0]).toBe(32);
      // os: T + R + C − 2 = 3 + 1 + 1 − 2; ws: 2R + C + T − 2 = 2 + 1 + 1 − 2 (T = M = 1); is: T = N = 1.
      expect(run.cycles).toBe(df === 'os' ? 3 : 2 * 3);
    }
  });

  test('with a bandwidth-limited DRAM port it stalls exactly as many cycles as the native model predicts, and still computes the matmul', () => {
    // Operand widths vary too (sub-byte tiles round up per transfer); the operand values stay int8,
    // the array does not care what the widths say, only the bytes on the port do.
    let executed = 0;
    let withMidRunStalls = 0;
    fc.assert(
      fc.property(
        problem,
        fc.record({
          ifmap: fc.integer({ min: 1, max: 300 }),
          filter: fc.integer({ min: 1, max: 300 }),
          ofmap: fc.integer({ min: 1, max: 1200 }),
        }),
        fc.constantFrom(0.25, 0.5, 1, 1.5, 2, 3, 7, 16, 64),
        fc.record({ actBits: fc.constantFrom(4, 8), weightBits: fc.constantFrom(2, 4, 8), accBits: fc.constantFrom(16, 24, 32) }),
        ({ p, a, w }, sram, bytesPerCycle, pe) => {
          const gemm = { m: p.m, k: p.k, n: p.n };
          const arch = smallArch(p.rows, p.cols, p.dataflow, sram, bytesPerCycle, pe);
          let plan;
          try {
            plan = planMemory(arch, gemm);
          } catch (err) {
            // SRAMs too small for one stationary tile or one operand vector: refused, not simulated.
            if (err instanceof UserError) return;
            throw err;
          }
          const native = simulateGemm(arch, gemm);
          const run = runRegisterArray(gemm, a, w, arch.array, { bytesPerCycle, plan });
          expect(Array.from(run.out)).toEqual(Array.from(matmul(gemm, a, w)));
          expect(run.busyCycles).toBe(native.computeCycles);
          expect(run.cycles).toBe(native.totalCycles);
          expect(run.stallCycles).toBe(native.stallCycles);
          // The SRAM accesses the array made, counted at its ports, are the ones the native model reports.
          expect(run.sram).toEqual({
            ifmapReads: native.sram.ifmap.reads,
            filterReads: native.sram.filter.reads,
            ofmapWrites: native.sram.ofmap.resultWrites,
            psumReads: native.sram.ofmap.psumReads,
          });
          executed++;
          if (native.stallCycles > native.initialFillCycles + native.finalDrainCycles) withMidRunStalls++;
        },
      ),
      { numRuns: 3000 },
    );
    // The generator must exercise the interesting cases, not only refusals or stall-free runs.
    expect(executed).toBeGreaterThan(1000);
    expect(withMidRunStalls).toBeGreaterThan(500);
  });

  test('spilled partial sums, chunked operands and resident operands all agree with the native stall count', () => {
    const gemm = { m: 12, k: 10, n: 9 };
    const a = Array.from({ length: 120 }, (_, i) => ((i * 37) % 255) - 127);
    const w = Array.from({ length: 90 }, (_, i) => ((i * 53) % 255) - 127);
    const seen = new Set<string>();
    for (const df of ['os', 'ws', 'is'] as const) {
      for (const size of [28, 40, 120, 4096]) {
        const arch = smallArch(4, 3, df, { ifmap: size, filter: size, ofmap: Math.max(40, 2 * size) }, 1.5);
        const plan = planMemory(arch, gemm);
        const native = simulateGemm(arch, gemm);
        const run = runRegisterArray(gemm, a, w, arch.array, { bytesPerCycle: 1.5, plan });
        expect(run.cycles).toBe(native.totalCycles);
        expect(Array.from(run.out)).toEqual(Array.from(matmul(gemm, a, w)));
        for (const b of ['ifmap', 'filter', 'ofmap'] as const) seen.add(plan.tiling[b]);
      }
    }
    expect([...seen].sort()).toEqual(['chunked', 'per-fold', 'per-slice', 'resident', 'spilled']);
  });
});
