/**
 * The SCALE-Sim-compatible cycle model against SCALE-Sim itself: for every reference layer
 * (test/fixtures/scalesim/reference.csv, SCALE-Sim v2 runs with their wall-clock time), the time of one
 * simulateScaleSim call — every figure SCALE-Sim reports, not only the cycle count — and the ratio to
 * SCALE-Sim's own seconds for that layer. Goal: at least 100,000× faster, i.e. microseconds per layer.
 * Each time is the best of several batches, because the machine is shared and noise only slows.
 */
import { simulateScaleSim, type ScaleSimConfig } from '../src/hw/scalesim/index.js';
import { referenceRows } from '../test/fixtures/scalesim/reference.js';
import type { Gemm } from '../src/hw/gemm.js';

const GOAL = 100_000;

interface Layer {
  name: string;
  config: ScaleSimConfig;
  gemm: Gemm;
  scaleSimSeconds: number;
}

export async function run(): Promise<void> {
  const layers = referenceLayers();
  const rows: { layer: Layer; micros: number; ratio: number }[] = [];
  for (const layer of layers) {
    const micros = bestMicrosPerCall(() => simulateScaleSim(layer.config, layer.gemm));
    rows.push({ layer, micros, ratio: layer.scaleSimSeconds / (micros * 1e-6) });
  }
  console.log(`SCALE-Sim view of one GEMM (all report figures), ${layers.length} reference runs; best of 5 batches`);
  console.log(`${'run'.padEnd(40)} ${'µs/call'.padStart(9)} ${'SCALE-Sim s'.padStart(12)} ${'speed-up'.padStart(12)}`);
  for (const { layer, micros, ratio } of rows) {
    console.log(`${layer.name.padEnd(40)} ${micros.toFixed(2).padStart(9)} ${layer.scaleSimSeconds.toFixed(3).padStart(12)} ${format(ratio).padStart(12)}`);
  }
  const micros = rows.map((r) => r.micros).sort((a, b) => a - b);
  const ratios = rows.map((r) => r.ratio).sort((a, b) => a - b);
  const totalModel = rows.reduce((s, r) => s + r.micros * 1e-6, 0);
  const totalScaleSim = rows.reduce((s, r) => s + r.layer.scaleSimSeconds, 0);
  const below = rows.filter((r) => r.ratio < GOAL).length;
  console.log(
    `summary: µs/call median ${median(micros).toFixed(2)}, max ${micros[micros.length - 1].toFixed(2)}; ` +
      `speed-up min ${format(ratios[0])}, median ${format(median(ratios))}; ` +
      `all ${rows.length} runs: ${(totalModel * 1e3).toFixed(2)} ms vs SCALE-Sim ${totalScaleSim.toFixed(0)} s (${format(totalScaleSim / totalModel)}); ` +
      `${below === 0 ? `every run meets the ${format(GOAL)} goal` : `${below} runs below the ${format(GOAL)} goal`}`,
  );
}

function referenceLayers(): Layer[] {
  return referenceRows().map(({ row, config, gemm }) => ({
    name: `${row.config} ${row.model} ${row.layer}`,
    config,
    gemm,
    scaleSimSeconds: Number(row.wall_s),
  }));
}

/** Best of 5 batches, each long enough (≥ 5 ms) for the timer to be meaningful. */
function bestMicrosPerCall(call: () => unknown): number {
  let calls = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) call();
    if (Number(process.hrtime.bigint() - t0) > 5e6) break;
    calls *= 2;
  }
  let best = Infinity;
  for (let batch = 0; batch < 5; batch++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) call();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3 / calls);
  }
  return best;
}

function median(sorted: number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function format(ratio: number): string {
  return `${Math.round(ratio).toLocaleString('en-US')}×`;
}
