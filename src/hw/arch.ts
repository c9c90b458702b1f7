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

// ───────────────────────────── the accelerator around the array ─────────────────────────────

/**
 * A PE either has fixed operand widths (narrower operands run at native speed, wider ones take
 * several passes) or is precision-scalable: BitFusion's fusion unit of `brickBits`-wide bricks whose
 * widest operands are actBits × weightBits (see precision.ts).
 */
export type PeKind = 'fixed' | 'bitfusion';
export const PE_KINDS: readonly PeKind[] = ['fixed', 'bitfusion'];

export interface ScalablePe extends ProcessingElement {
  kind: PeKind;
  /** Width of one BitFusion brick; only meaningful for `bitfusion`. */
  brickBits: number;
}

/** What the vector unit is charged for, per element: the trace's vector ops and the requantiser on every GEMM output. */
export type VectorWork = 'layernorm' | 'softmax' | 'gelu' | 'add' | 'avgpool' | 'requant';
export const VECTOR_WORK: readonly VectorWork[] = ['layernorm', 'softmax', 'gelu', 'add', 'avgpool', 'requant'];

/** SIMD lanes for the non-GEMM work; a lane retires one element per cycle per pass over the data. */
export interface VectorUnit {
  lanes: number;
  /** Datapath width of a lane (integer softmax, GELU and LayerNorm work on wide intermediates). */
  bits: number;
  /** Cycles per element on one lane, by kind of work: the passes a pipelined lane makes over the data. */
  cyclesPerElement: Record<VectorWork, number>;
}

/** N2UQ's threshold quantiser: per lane a bank of 2^maxBits − 1 comparators, one element per lane per cycle. */
export interface ThresholdUnit {
  /** 0 when the design has none. */
  lanes: number;
  /** Widest output level the bank produces: 2^maxBits − 1 comparators per lane. */
  maxBits: number;
  comparatorBits: number;
}

/** NoisyQuant's noise adder: per lane one adder in front of the activation quantiser, and a per-channel noise table. */
export interface NoiseAdder {
  /** 0 when the design has none. */
  lanes: number;
  bits: number;
  tableEntries: number;
  entryBits: number;
}

/** Whether vector, threshold and noise work runs after each GEMM or overlapped with the GEMM it feeds. */
export type Overlap = 'serial' | 'overlapped';
export const OVERLAPS: readonly Overlap[] = ['serial', 'overlapped'];

/** Where activations live between ops: crossing DRAM for every GEMM, or kept in the ifmap SRAM when they fit. */
export type Activations = 'dram' | 'on-chip';

/**
 * The whole design: the array (Arch, what the GEMM cycle model needs) and everything around it.
 * Every field is filled: the arch file's, or the documented default, listed in `defaulted`.
 */
export interface Accelerator extends Arch {
  pe: ScalablePe;
  vector: VectorUnit;
  threshold: ThresholdUnit;
  noise: NoiseAdder;
  /** PTQ4ViT support: a flag bit and a shifter on the array's operand inputs. */
  twinUniform: boolean;
  overlap: Overlap;
  activations: Activations;
  /** Supply voltage; undefined means the node's nominal supply. */
  volts: number | undefined;
  /** Operand isolation: a MAC with a zero operand does not switch its multiplier and adder. */
  zeroGating: boolean;
  /** Field paths the file left out, filled with vitsim's documented defaults. */
  defaulted: string[];
}
