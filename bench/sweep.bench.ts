/**
 * Sweep throughput (issue 8): design points per minute for DeiT-B (batch 1) with latency, energy and
 * area, on a 100,000-point grid, with 1 and with 2 worker threads. Goal: ≥ 100,000 points per minute
 * on 2 cores, i.e. about 1 ms of CPU per point.
 *
 * The grid (last axis fastest): array rows × cols {8 … 128} (5 × 5), ifmap SRAM {64 … 512 KiB} (4),
 * filter SRAM {32 … 512 KiB} (5), W=A bits {8 … 4} (5), technology node {45 … 7 nm} (8), DRAM type (5).
 * What is cached, exactly (src/dse/evaluate.ts): one simulation per distinct (design shape, DRAM
 * bandwidth, clock, trace) — here 2,500, each shared by the 40 node × DRAM-type points, which only
 * re-price it; one pricing per (simulation, node), the DRAM line re-priced per DRAM type. Every point
 * is still written as a full result line (metrics and breakdowns) to results.jsonl, and sorted at the end.
 *
 * Reported: wall-clock points per minute, CPU ms per point (process.cpuUsage: every thread, GC
 * included), and CPU ms per distinct simulation: what a grid without re-priced axes would cost per
 * point. `npx tsx bench/index.ts sweep rows=N` keeps the first N array-row values (20,000 points each).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSweep, sweepPoints } from '../src/dse/run.js';
import { loadSweep } from '../src/dse/spec.js';

/** mid-32x32 with an ofmap SRAM large enough for a 128-column array. */
const ARCH = {
  name: 'bench-base',
  array: { rows: 32, cols: 32, dataflow: 'ws' },
  pe: { actBits: 8, weightBits: 8, accBits: 32 },
  sram: { ifmap: '128 KiB', filter: '128 KiB', ofmap: '256 KiB' },
  dram: { type: 'LPDDR4', bandwidth: '25.6 GB/s' },
  clock: '1 GHz',
  technology: '28 nm',
};

const SIZES = [8, 16, 32, 64, 128];

const SPEC = {
  name: 'deit-b-bench-grid',
  base: 'arch.json',
  workload: 'deit-b',
  axes: [
    { name: 'array.rows', values: SIZES },
    { name: 'array.cols', values: SIZES },
    { name: 'sram.ifmap', geometric: { from: '64 KiB', to: '512 KiB', factor: 2 } },
    { name: 'sram.filter', geometric: { from: '32 KiB', to: '512 KiB', factor: 2 } },
    { name: 'quant.bits', values: [8, 7, 6, 5, 4] },
    { name: 'technology', values: ['45 nm', '32 nm', '28 nm', '22 nm', '16 nm', '14 nm', '10 nm', '7 nm'] },
    { name: 'dram.type', values: ['LPDDR4', 'DDR3', 'GDDR5', 'HBM2', 'HMC'] },
  ],
  constraints: [{ metric: 'areaMm2', max: 50 }],
};

/** Points sharing one simulation (the node × DRAM-type axes). */
const POINTS_PER_SIMULATION = 8 * 5;

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vitsim-sweep-bench-'));
  try {
    const rowsArg = process.argv.slice(2).find((a) => /^rows=\d+$/.test(a));
    const rows = rowsArg === undefined ? SIZES.length : Math.min(SIZES.length, Math.max(1, Number(rowsArg.slice(5))));
    writeFileSync(join(dir, 'arch.json'), JSON.stringify(ARCH));
    const specFile = join(dir, 'spec.json');
    writeFileSync(specFile, JSON.stringify({ ...SPEC, axes: [{ name: 'array.rows', values: SIZES.slice(0, rows) }, ...SPEC.axes.slice(1)] }));
    const spec = loadSweep(specFile);
    const points = sweepPoints(spec);
    console.log(`DeiT-B, batch 1, W=A 8…4 bits: a grid of ${points.toLocaleString('en-US')} points, ${points / POINTS_PER_SIMULATION} distinct simulations (${POINTS_PER_SIMULATION} points each)`);
    console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (1, 5, 15 min; 2 cores, shared)`);
    console.log(`${'workers'.padStart(7)} ${'points'.padStart(8)} ${'wall s'.padStart(8)} ${'points/min'.padStart(11)} ${'CPU ms/point'.padStart(13)} ${'CPU ms/sim'.padStart(11)}`);
    for (const workers of [1, 2]) {
      const out = join(dir, `out-${workers}`);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const summary = await runSweep(spec, { out, specFile, workers, resume: false });
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const perPoint = (cpu.user + cpu.system) / 1000 / summary.computed;
      console.log(
        `${String(workers).padStart(7)} ${String(summary.computed).padStart(8)} ${seconds.toFixed(1).padStart(8)} ${Math.round((summary.computed / seconds) * 60).toLocaleString('en-US').padStart(11)} ${perPoint.toFixed(3).padStart(13)} ${(perPoint * POINTS_PER_SIMULATION).toFixed(1).padStart(11)}`,
      );
      rmSync(out, { recursive: true, force: true });
    }
    console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
