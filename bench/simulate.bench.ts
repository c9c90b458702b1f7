/**
 * The whole-ViT simulator (src/hw/simulate.ts): CPU time to simulate one DeiT-B inference (batch 1,
 * W8A8: 148 ops, 74 of them GEMMs) on each shipped preset, and layer evaluations per second
 * (ops simulated per CPU second). The target is ≤ 1 ms of CPU per DeiT-B.
 *
 * CPU time is process.cpuUsage (user + system, garbage collection included), the best of 5 batches
 * of at least ~100 ms each: the machine is shared, and sharing only slows. Beside it: the time the
 * native GEMM model takes for the 8 distinct GEMM shapes simulateTrace memoises (sharing solved
 * shortened GEMMs between them, as simulateTrace does), the same with every
 * tile planned (simulateGemm's { exhaustive: true }, without the periodic shortcut), and what the 74
 * GEMMs would cost without the memo (every GEMM op sent to simulateGemm).
 */
import { loadArch } from '../src/hw/arch-file.js';
import { newShortcutMemo, simulateGemm } from '../src/hw/native.js';
import { simulateTrace } from '../src/hw/simulate.js';
import { uniformBits } from '../src/trace/bits.js';
import { buildTrace } from '../src/trace/build.js';
import type { GemmOp, Op } from '../src/trace/ops.js';
import { loadWorkload } from '../src/trace/workload.js';

const PRESETS = ['tpu-v1', 'mid-32x32', 'edge-16x16', 'bitfusion-16x32'];

export async function run(): Promise<void> {
  const trace = buildTrace(loadWorkload('deit-b'), { bits: uniformBits(8, 8) });
  const gemms = trace.ops.filter((op): op is GemmOp => op.kind === 'gemm');
  console.log(`DeiT-B, batch 1, W8A8: ${trace.ops.length} ops (${gemms.length} GEMMs); CPU per simulation, best of 5 batches`);
  console.log(`${'preset'.padEnd(16)} ${'ms CPU/sim'.padStart(11)} ${'ops/s'.padStart(10)} ${'GEMM evals'.padStart(10)} ${'native ms'.padStart(10)} ${'every tile'.padStart(10)} ${'no-memo ms'.padStart(11)}`);
  for (const preset of PRESETS) {
    const arch = loadArch(preset);
    const sim = simulateTrace(arch, trace);
    const ms = bestCpuMs(() => simulateTrace(arch, trace));
    const unique = distinct(gemms);
    // As simulateTrace does: one memo of solved shortened GEMMs per simulation.
    const nativeMs = bestCpuMs(() => {
      const memo = newShortcutMemo();
      unique.forEach((op) => simulateGemm(arch, op, { outputBits: outputBits(trace.ops, op), memo }));
    });
    const exhaustiveMs = bestCpuMs(() => unique.forEach((op) => simulateGemm(arch, op, { outputBits: outputBits(trace.ops, op), exhaustive: true })));
    // Without the memo every GEMM op would be one call (fixed 8-bit presets: the op's own shape and widths).
    const noMemoMs = arch.pe.kind === 'fixed' ? bestCpuMs(() => gemms.forEach((op) => simulateGemm(arch, op, { outputBits: outputBits(trace.ops, op) }))) : NaN;
    console.log(
      `${preset.padEnd(16)} ${ms.toFixed(3).padStart(11)} ${formatRate(trace.ops.length / (ms / 1000)).padStart(10)} ${String(sim.gemmEvaluations).padStart(10)} ${nativeMs.toFixed(3).padStart(10)} ${exhaustiveMs.toFixed(3).padStart(10)} ${(Number.isNaN(noMemoMs) ? '-' : noMemoMs.toFixed(3)).padStart(11)}`,
    );
  }
}

/** The GEMM ops of distinct shapes, as simulateTrace's memo sees them at W8A8 on a fixed PE. */
function distinct(gemms: readonly GemmOp[]): GemmOp[] {
  const seen = new Map<string, GemmOp>();
  for (const op of gemms) seen.set(`${op.m},${op.k},${op.n}`, seen.get(`${op.m},${op.k},${op.n}`) ?? op);
  return [...seen.values()];
}

/** The width results leave at: the next op's input width (as simulateTrace does). */
function outputBits(ops: readonly Op[], op: GemmOp): number {
  const next = ops[ops.indexOf(op) + 1];
  return next === undefined ? op.actBits : next.kind === 'gemm' ? next.actBits : next.inBits;
}

/** Best over 5 batches of the mean CPU milliseconds per call; a batch lasts at least ~100 ms of CPU. */
function bestCpuMs(fn: () => unknown): number {
  let calls = 1;
  for (;;) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) fn();
    const c = process.cpuUsage(c0);
    if (c.user + c.system >= 100_000) break;
    calls *= 2;
  }
  let best = Infinity;
  for (let batch = 0; batch < 5; batch++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000 / calls);
  }
  return best;
}

function formatRate(perSecond: number): string {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(1)} k`;
}
