/**
 * The roofline of a design (Williams, Waterman & Patterson, CACM 2009) with a workload's GEMMs placed
 * on it: operational intensity (operations per DRAM byte) against the operations per second each
 * GEMM achieved on the array. The memory roof is DRAM bandwidth × intensity; the compute roof is the
 * array's peak at the operands' widths (a precision-scalable PE has a higher roof at fewer bits, a
 * fixed PE a lower one for operands wider than it). Vector ops work on chip and are not on it.
 */
import type { Accelerator } from '../hw/arch.js';
import { peakMacsPerSecond } from '../hw/precision.js';
import type { Simulation } from '../hw/simulate.js';
import type { Trace } from '../trace/trace.js';

export interface RooflineOp {
  name: string;
  /** Operations (2 per MAC) per DRAM byte moved. */
  intensity: number;
  /** Operations per second over the op's array cycles (compute + DRAM stalls). */
  achievedOpsPerSecond: number;
  bound: 'compute' | 'memory';
  /** The roof that applies to this op's widths. */
  peakOpsPerSecond: number;
}

export interface ComputeRoof {
  label: string;
  opsPerSecond: number;
}

export interface Roofline {
  arch: string;
  dramBytesPerSecond: number;
  roofs: ComputeRoof[];
  ops: RooflineOp[];
}

/** The roofline of `sim`, a simulation of `trace` on `arch`. GEMMs without DRAM traffic have no finite intensity and are left out. */
export function roofline(arch: Accelerator, trace: Trace, sim: Simulation): Roofline {
  const pes = arch.array.rows * arch.array.cols;
  const roofs = new Map<string, ComputeRoof>();
  const ops: RooflineOp[] = [];
  sim.ops.forEach((r, i) => {
    const op = trace.ops[i];
    if (op.kind !== 'gemm') return;
    const peak = 2 * peakMacsPerSecond(arch.pe, pes, arch.clockHz, op.actBits, op.weightBits);
    const label = `W${op.weightBits}A${op.actBits}`;
    if (!roofs.has(label)) roofs.set(label, { label, opsPerSecond: peak });
    const bytes = r.actions.dram.readBytes + r.actions.dram.writeBytes;
    const arraySeconds = (r.computeCycles + r.stallCycles) / arch.clockHz;
    if (bytes === 0 || arraySeconds === 0) return;
    ops.push({ name: r.name, intensity: (2 * r.macs) / bytes, achievedOpsPerSecond: (2 * r.macs) / arraySeconds, bound: r.bound, peakOpsPerSecond: peak });
  });
  return { arch: arch.name, dramBytesPerSecond: arch.dram.bandwidthBytesPerSecond, roofs: [...roofs.values()].sort((a, b) => a.opsPerSecond - b.opsPerSecond), ops };
}

/** The attainable operations per second at `intensity` under `peak`: min(peak, bandwidth × intensity). */
export function attainable(line: Roofline, peak: number, intensity: number): number {
  return Math.min(peak, line.dramBytesPerSecond * intensity);
}
