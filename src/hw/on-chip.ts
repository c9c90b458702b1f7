/**
 * GEMMs whose activations stay on chip (arch `activations: "on-chip"`, like TPU-v1's 24 MiB unified
 * buffer): the A operand is already in the ifmap SRAM when the GEMM starts, and its results stay there
 * for the next op, so neither crosses the DRAM port. Weights — and an activation B operand, which
 * enters the array through the weight path — still arrive from DRAM, and partial sums that do not fit
 * the ofmap SRAM still spill to it.
 *
 * This is the native model's own plan (planMemory: the same tiles, the same DMA order) with the
 * activation transfers removed, timed by the native model's own solver (memoryStallCycles).
 */
import { dramBytesPerCycle, type Arch } from './arch.js';
import type { Gemm } from './gemm.js';
import { memoryStallCycles, planMemory, type Tile } from './native.js';

export interface OnChipTiming {
  totalCycles: number;
  stallCycles: number;
  dram: { readBytes: number; writeBytes: number };
}

/** Cycles and DRAM traffic of `gemm` with its input and final results in the activation SRAM. */
export function onChipActivationTiming(arch: Arch, gemm: Gemm, outputBits: number, computeCycles: number): OnChipTiming {
  const plan = planMemory(arch, gemm, { outputBits, where: arch.name });
  const tiles: Tile[] = plan.tiles.map((t) => {
    if (t.buffer === 'ifmap') return { ...t, fillBytes: 0, fillElements: 0 };
    if (t.buffer === 'ofmap' && t.final) return { ...t, drainBytes: 0, drainElements: 0 };
    return t;
  });
  // The queue keeps its order; only transfers that no longer move anything leave it.
  const transfers = plan.transfers.filter((x) => (x.kind === 'fill' ? tiles[x.tile].fillBytes : tiles[x.tile].drainBytes) > 0);
  const timing = memoryStallCycles({ tiles, transfers }, computeCycles, dramBytesPerCycle(arch));
  return {
    totalCycles: timing.totalCycles,
    stallCycles: timing.totalCycles - computeCycles,
    dram: { readBytes: tiles.reduce((s, t) => s + t.fillBytes, 0), writeBytes: tiles.reduce((s, t) => s + t.drainBytes, 0) },
  };
}
