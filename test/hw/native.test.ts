/**
 * The native cycle/traffic model: hand-worked cases (the arithmetic in the comments), the rules for
 * DRAM traffic, and the figures it shares with SCALE-Sim v2 (test/fixtures/scalesim/, see its
 * PROVENANCE.md). Its stall counts are checked against the register-level array in
 * register-array.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { UserError } from '../../src/config/errors.js';
import { loadArch } from '../../src/hw/arch-file.js';
import type { Arch, Dataflow } from '../../src/hw/arch.js';
import { planMemory, simulateGemm } from '../../src/hw/native.js';

function arch(
  rows: number,
  cols: number,
  dataflow: Dataflow,
  sram: { ifmap: number; filter: number; ofmap: number },
  bytesPerCycle: number,
  accBits = 16,
): Arch {
  return {
    name: 'hand',
    description: '',
    array: { rows, cols, dataflow },
    pe: { actBits: 8, weightBits: 8, accBits },
    sram: { ifmapBytes: sram.ifmap, filterBytes: sram.filter, ofmapBytes: sram.ofmap },
    // 1 Hz: bytes per second are bytes per cycle.
    dram: { type: 'DDR4', bandwidthBytesPerSecond: bytesPerCycle },
    clockHz: 1,
    technologyNodeMetres: 28e-9,
  };
}

describe('native model, hand-worked cases', () => {
  test('OS 2x2, out[2,2] = in[2,3]·w[3,2] at 1 B/cycle: the initial fill and the final write-back are paid', () => {
    const r = simulateGemm(arch(2, 2, 'os', { ifmap: 1024, filter: 1024, ofmap: 1024 }, 1), { m: 2, k: 3, n: 2 });
    // One fold of T + R + C − 2 = 3 + 2 + 2 − 2 = 5 cycles.
    expect([r.folds, r.cyclesPerFold, r.computeCycles]).toEqual([1, 5, 5]);
    // in (6 B) and w (6 B) each fit in half their SRAM: loaded once. The DMA queue: in over cycles
    // 0–5, w over 6–11; the array's first cycle reads both, so it starts at 12 (initial fill = 12).
    // It runs 5 cycles, 12–16; the last result (PE(1,1), T−1+1+1 = 4 cycles in) is written in
    // cycle 16, so the 4 results (8-bit, 4 B) drain over 17–20. Total 21 = 5 + 16 stall cycles.
    expect(r.initialFillCycles).toBe(12);
    expect(r.finalDrainCycles).toBe(4);
    expect(r.stallCycles).toBe(16);
    expect(r.totalCycles).toBe(21);
    expect(r.dram).toEqual({ ifmapReadBytes: 6, filterReadBytes: 6, psumReadBytes: 0, psumWriteBytes: 0, ofmapWriteBytes: 4, readBytes: 12, writeBytes: 4 });
    // SRAM: the array reads every in and w value once; the ofmap SRAM takes 4 results and gives them to DRAM.
    expect(r.sram.ifmap).toEqual({ reads: 6, writes: 6, wordBits: 8 });
    expect(r.sram.filter).toEqual({ reads: 6, writes: 6, wordBits: 8 });
    expect(r.sram.ofmap).toEqual({ reads: 4, writes: 4, psumReads: 0, resultWrites: 4, wordBits: 16 });
    expect(r.computeUtilisation).toBeCloseTo((2 * 3 * 2) / (4 * 5), 12);
    expect(r.overallUtilisation).toBeCloseTo((2 * 3 * 2) / (4 * 21), 12);
  });

  test('OS 1x1, out[1,2] = in[1,2]·w[2,2] at 0.5 B/cycle: a refill slower than the previous fold stalls mid-run', () => {
    const r = simulateGemm(arch(1, 1, 'os', { ifmap: 4, filter: 4, ofmap: 4 }, 0.5), { m: 1, k: 2, n: 2 });
    // Two column folds of T + R + C − 2 = 2 cycles: stall-free, fold 0 is cycles 0–1, fold 1 is 2–3.
    expect([r.folds, r.cyclesPerFold, r.computeCycles]).toEqual([2, 2, 4]);
    // Halves are 2 B. in (2 B) fits: resident, one fill. w (4 B) does not: one 2 B column per fold.
    // Each 2 B fill takes 4 cycles, each 1 B result (16-bit in SRAM, 8-bit out) drains in 2.
    // Queue: in 0–3, w col 0 4–7, w col 1 8–11 (its half was never used: no wait), then drains.
    // Fold 0 needs in and w col 0: starts at 8 (initial fill 8), runs 8–9, writes its result in 9.
    // Fold 1 needs w col 1 at stall-free cycle 2 = 2 + 8 = 10, ready at 12: 2 more stall cycles.
    // Fold 1 runs 12–13, result in 13. Drain 0 waits for the port (busy until 12): 12–13;
    // drain 1 can start at 14: 14–15. Total 16 = 4 compute + 8 fill + 2 mid-run + 2 write-back.
    expect(r.tiling).toEqual({ ifmap: 'resident', filter: 'per-fold', ofmap: 'per-fold' });
    expect(r.initialFillCycles).toBe(8);
    expect(r.finalDrainCycles).toBe(2);
    expect(r.stallCycles).toBe(12);
    expect(r.totalCycles).toBe(16);
    expect(r.dram.ifmapReadBytes).toBe(2);
    expect(r.dram.filterReadBytes).toBe(4);
    expect(r.dram.ofmapWriteBytes).toBe(2);
  });

  test('WS 2x2, out[4,2] = in[4,4]·w[4,2] with a 16 B ofmap SRAM: partial sums spill at accBits and come back', () => {
    const r = simulateGemm(arch(2, 2, 'ws', { ifmap: 1024, filter: 1024, ofmap: 16 }, 1000), { m: 4, k: 4, n: 2 });
    // K on the rows: 2 row (K) folds; N on the columns: 1 column fold; T = M = 4 streamed.
    // Fold: 2R + C + T − 2 = 4 + 2 + 4 − 2 = 8 cycles; 2 folds = 16.
    expect([r.rowFolds, r.colFolds, r.cyclesPerFold, r.computeCycles]).toEqual([2, 1, 8, 16]);
    // The column fold's partial sums are 4 × 2 values × 16 bits = 16 B > the 8 B half: they spill,
    // in chunks of 8 B = 2 rows (the least that fits the C-cycle write skew). K fold 0 writes them
    // out at accBits (16 B), K fold 1 reads them back (16 B) and writes the finished 8 results at
    // actBits (8 B).
    expect(r.tiling.ofmap).toBe('spilled');
    expect(r.dram.psumWriteBytes).toBe(16);
    expect(r.dram.psumReadBytes).toBe(16);
    expect(r.dram.ofmapWriteBytes).toBe(8);
    // in (16 B) and w (8 B) fit in half their SRAMs: read once.
    expect(r.dram.ifmapReadBytes).toBe(16);
    expect(r.dram.filterReadBytes).toBe(8);
    // Ofmap SRAM: the array writes 8 values per K fold (16) and reads the 8 partial sums back once;
    // DRAM fills write 8 values, drains read 16 (8 spilled + 8 final).
    expect(r.sram.ofmap).toEqual({ reads: 8 + 16, writes: 16 + 8, psumReads: 8, resultWrites: 16, wordBits: 16 });
  });

  test('IS 2x2, out[2,3] = in[2,2]·w[2,3] at 1 B/cycle: the preload starts before the streamed operand has arrived', () => {
    const r = simulateGemm(arch(2, 2, 'is', { ifmap: 1024, filter: 1024, ofmap: 1024 }, 1), { m: 2, k: 2, n: 3 });
    // K on the rows, M on the columns: one fold; T = N = 3; 2R + C + T − 2 = 4 + 2 + 3 − 2 = 7 cycles.
    expect([r.folds, r.computeCycles]).toEqual([1, 7]);
    // Queue: the stationary in (4 B) over 0–3, then w (6 B) over 4–9. The preload reads its first row
    // in cycle 0: wait until 4 (initial fill 4). The first streamed w vector is read R = 2 cycles in,
    // at 4 + 2 = 6, but w is there only at 10: 4 more stall cycles. The array ends at 7 + 8 = 15;
    // the last result (2R − 1 + (T − 1) + (C − 1) = 6 cycles in) is written in cycle 14, and the
    // 6 results (6 B) drain over 15–20. Total 21.
    expect(r.initialFillCycles).toBe(4);
    expect(r.finalDrainCycles).toBe(6);
    expect(r.stallCycles).toBe(14);
    expect(r.totalCycles).toBe(21);
    expect(r.dram.ifmapReadBytes + r.dram.filterReadBytes + r.dram.ofmapWriteBytes).toBe(4 + 6 + 6);
  });

  test('WS partial sums that fit in half the ofmap SRAM stay on chip: no psum DRAM traffic, one write-back per column fold', () => {
    const r = simulateGemm(arch(2, 2, 'ws', { ifmap: 1024, filter: 1024, ofmap: 64 }, 1000), { m: 4, k: 4, n: 2 });
    // Same GEMM, 32 B halves hold the 16 B of partial sums.
    expect(r.tiling.ofmap).toBe('per-slice');
    expect(r.dram.psumWriteBytes + r.dram.psumReadBytes).toBe(0);
    expect(r.dram.ofmapWriteBytes).toBe(8);
    expect(r.sram.ofmap.psumReads).toBe(8);
  });

  test('an ideal memory (infinite bandwidth) leaves exactly the compute cycles', () => {
    const r = simulateGemm(loadArch('edge-16x16'), { m: 197, k: 384, n: 1536 }, { bytesPerCycle: Infinity });
    expect(r.stallCycles).toBe(0);
    expect(r.totalCycles).toBe(r.computeCycles);
  });
});

describe('native model, DRAM traffic rules', () => {
  test('an operand that fits in half its SRAM crosses the DRAM interface once', () => {
    // tpu-v1: 24 MiB ifmap SRAM holds in[197,384] many times over.
    const r = simulateGemm(loadArch('tpu-v1'), { m: 197, k: 384, n: 1536 });
    expect(r.tiling.ifmap).toBe('resident');
    expect(r.dram.ifmapReadBytes).toBe(197 * 384);
    // w[384,1536] (576 KiB) does not fit in 128 KiB, but each 256x256 stationary tile is read once.
    expect(r.dram.filterReadBytes).toBe(384 * 1536);
    expect(r.dram.ofmapWriteBytes).toBe(197 * 1536);
  });

  test('an OS ifmap that does not fit is read once per column fold, the filter slice once per column fold', () => {
    // edge-16x16: 16 KiB halves; in[197,384] = 75,648 B does not fit; a 16x384 slice (6 KiB) does.
    const r = simulateGemm(loadArch('edge-16x16'), { m: 197, k: 384, n: 1536 });
    expect(r.colFolds).toBe(96);
    expect(r.dram.ifmapReadBytes).toBe(96 * 197 * 384);
    expect(r.tiling.filter).toBe('per-slice');
    expect(r.dram.filterReadBytes).toBe(384 * 1536);
  });

  test('operands and results are counted at their widths: 4-bit weights halve the filter bytes, outputBits sets the write-back', () => {
    const base = loadArch('tpu-v1');
    const narrow: Arch = { ...base, pe: { ...base.pe, weightBits: 4 } };
    const r = simulateGemm(narrow, { m: 197, k: 384, n: 1536 }, { outputBits: 16 });
    expect(r.dram.filterReadBytes).toBe((384 * 1536) / 2);
    expect(r.dram.ofmapWriteBytes).toBe(197 * 1536 * 2);
  });

  test('refuses a zero bandwidth and SRAMs too small for one stationary tile, in one line', () => {
    const small = arch(4, 4, 'ws', { ifmap: 1024, filter: 16, ofmap: 1024 }, 1);
    expect(() => simulateGemm(small, { m: 8, k: 8, n: 8 })).toThrow(/^hand: sram\.filter is too small for this GEMM: half of it \(8 B\) cannot hold a 4x4 stationary tile \(16 B\)$/);
    expect(() => simulateGemm(small, { m: 8, k: 8, n: 8 }, { bytesPerCycle: 0 })).toThrow(UserError);
    expect(() => simulateGemm(small, { m: 0, k: 8, n: 8 })).toThrow(UserError);
  });

  test('the DMA queue is keyed before every need: each fill is queued before the first access of its tile', () => {
    const plan = planMemory(loadArch('mid-32x32'), { m: 197, k: 384, n: 1536 });
    for (const t of plan.tiles) if (t.prev >= 0) expect(plan.tiles[t.prev].lastAccessCycle).toBeLessThan(t.firstAccessCycle);
  });
});

/** SCALE-Sim v2 reference runs (CALC mode), copied with provenance into test/fixtures/scalesim/. */
const FIXTURE = new URL('../fixtures/scalesim/reference.csv', import.meta.url);
function referenceRows(): Record<string, string>[] {
  const [header, ...lines] = readFileSync(FIXTURE, 'utf8').trim().split('\n');
  const cols = header.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [cols[i], v])));
}

describe('native model against SCALE-Sim v2 (CALC reference runs)', () => {
  const rows = referenceRows().filter((r) => r.bw_mode === 'CALC' && r.status === 'ok');

  test('compute cycles are SCALE-Sim total cycles + 1, mapping efficiency and ifmap/filter SRAM reads are equal', () => {
    expect(rows.length).toBeGreaterThan(100);
    for (const row of rows) {
      const R = Number(row.array_rows);
      const C = Number(row.array_cols);
      const a = arch(R, C, row.dataflow as Dataflow, { ifmap: Number(row.ifmap_sram_kB) * 1024, filter: Number(row.filter_sram_kB) * 1024, ofmap: Number(row.ofmap_sram_kB) * 1024 }, 10, 32);
      const r = simulateGemm(a, { m: Number(row.M), k: Number(row.K), n: Number(row.N) });
      expect(r.computeCycles, row.run_key).toBe(Number(row.total_cycles) + 1);
      expect(100 * r.mappingEfficiency).toBeCloseTo(Number(row.mapping_eff_pct), 9);
      expect(r.sram.ifmap.reads, row.run_key).toBe(Number(row.sram_ifmap_reads));
      expect(r.sram.filter.reads, row.run_key).toBe(Number(row.sram_filter_reads));
      // Ofmap SRAM writes by the array: SCALE-Sim adds R + C per fold in OS (a counting quirk).
      const quirk = r.dataflow === 'os' ? (R + C) * r.folds : 0;
      expect(r.sram.ofmap.resultWrites + quirk, row.run_key).toBe(Number(row.sram_ofmap_writes));
    }
  });
});
