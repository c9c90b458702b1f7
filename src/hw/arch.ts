/**
 * An accelerator design as the cycle model sees it: every quantity in SI units
 * (bytes, hertz, bytes per second, metres). Arch files (arch/*.json) are parsed into this
 * by arch-file.ts; nothing here knows about units or files.
 */

/** Which operand stays in the PEs while the others stream: output, weight or input stationary. */
export type Dataflow = 'os' | 'ws' | 'is';
export const DATAFLOWS: readonly Dataflow[] = ['os', 'ws', 'is'];

export type DramType = 'DDR3' | 'DDR4' | 'LPDDR4' | 'GDDR5' | 'HBM2' | 'HMC';
export const DRAM_TYPES: readonly DramType[] = ['DDR3', 'DDR4', 'LPDDR4', 'GDDR5', 'HBM2', 'HMC'];

export interface SystolicArray {
  rows: number;
  cols: number;
  dataflow: Dataflow;
}

/** Native operand and accumulator widths of one processing element. */
export interface ProcessingElement {
  actBits: number;
  weightBits: number;
  accBits: number;
}

/** On-chip scratchpads, each double-buffered: half is filled from DRAM while the array reads the other half. */
export interface Buffers {
  ifmapBytes: number;
  filterBytes: number;
  ofmapBytes: number;
}

export interface Dram {
  type: DramType;
  bandwidthBytesPerSecond: number;
}

export interface Arch {
  name: string;
  description: string;
  array: SystolicArray;
  pe: ProcessingElement;
  sram: Buffers;
  dram: Dram;
  clockHz: number;
  technologyNodeMetres: number;
}

/** DRAM bytes the interface moves per clock cycle of the array. */
export function dramBytesPerCycle(arch: Arch): number {
  return arch.dram.bandwidthBytesPerSecond / arch.clockHz;
}

/** Peak operations per second (2 per MAC) at the PEs' native precision. */
export function peakOpsPerSecond(arch: Arch): number {
  return 2 * arch.array.rows * arch.array.cols * arch.clockHz;
}
