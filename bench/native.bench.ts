/**
 * The native cycle/traffic model (src/hw/native.ts): µs per simulateGemm call on the DeiT-Small layer
 * shapes, for each shipped preset and each dataflow. The cost grows with the number of tiles (folds
 * times chunks), so small arrays with small SRAMs are the slow end. Each time is the best of several
 * batches, because the machine is shared and noise only slows.
 */
import { loadArch } from '../src/hw/arch-file.js';
import { DATAFLOWS } from '../src/hw/arch.js';
import type { Gemm } from '../src/hw/gemm.js';
import { simulateGemm } from '../src/hw/native.js';

/** DeiT-S (embed 384, 6 heads of 64, MLP 1536, 197 tokens; 196 patches for the embedding). */
const DEIT_S: { name: string; gemm: Gemm }[] = [
  { name: 'patch_embed', gemm: { m: 196, k: 768, n: 384 } },
  { name: 'qkv', gemm: { m: 197, k: 384, n: 1152 } },
  { name: 'attn_scores', gemm: { m: 197, k: 64, n: 197 } },
  { name: 'attn_v', gemm: { m: 197, k: 197, n: 64 } },
  { name: 'proj', gemm: { m: 197, k: 384, n: 384 } },
  { name: 'fc1', gemm: { m: 197, k: 384, n: 1536 } },
  { name: 'fc2', gemm: { m: 197, k: 1536, n: 384 } },
];

const PRESETS = ['edge-16x16', 'mid-32x32', 'tpu-v1'];

export async function run(): Promise<void> {
  console.log('native model (simulateGemm): µs per call on DeiT-S layers; best of 5 batches');
  console.log(`${'preset'.padEnd(12)} ${'df'.padEnd(3)} ${'layer'.padEnd(12)} ${'µs/call'.padStart(10)} ${'tiles'.padStart(7)} ${'stall %'.padStart(8)}`);
  const all: number[] = [];
  for (const preset of PRESETS) {
    const arch = loadArch(preset);
    for (const dataflow of DATAFLOWS) {
      for (const { name, gemm } of DEIT_S) {
        const result = simulateGemm(arch, gemm, { dataflow });
        const micros = bestMicrosPerCall(() => simulateGemm(arch, gemm, { dataflow }));
        all.push(micros);
        const tiles = result.tiles.ifmap + result.tiles.filter + result.tiles.ofmap;
        const stallPct = (100 * result.stallCycles) / result.totalCycles;
        console.log(`${preset.padEnd(12)} ${dataflow.padEnd(3)} ${name.padEnd(12)} ${micros.toFixed(1).padStart(10)} ${String(tiles).padStart(7)} ${stallPct.toFixed(1).padStart(8)}`);
      }
    }
  }
  all.sort((a, b) => a - b);
  console.log(`median ${all[Math.floor(all.length / 2)].toFixed(1)} µs, max ${all[all.length - 1].toFixed(1)} µs per GEMM over ${all.length} (preset, dataflow, layer)`);
}

/** Best over 5 batches of the mean µs per call; a batch lasts at least ~20 ms. */
function bestMicrosPerCall(fn: () => unknown): number {
  let calls = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) fn();
    if (performance.now() - t0 >= 20) break;
    calls *= 2;
  }
  let best = Infinity;
  for (let batch = 0; batch < 5; batch++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) fn();
    best = Math.min(best, ((performance.now() - t0) * 1000) / calls);
  }
  return best;
}
