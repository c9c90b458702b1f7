/**
 * A whole inference on a whole design: every op of a trace on the array and the units around it,
 * with cycles, stalls, utilisation, what bounds each op, and the action counts the energy model
 * prices. A pure function of (design, trace); it knows cycles and counts, never a picojoule.
 *
 * - **GEMMs** run on the array through the native cycle model (native.ts), one GEMM of the op's shape
 *   after another (`count` per-head products run back to back). A precision-scalable PE streams
 *   fewer reduction steps, a fixed PE more passes for wide operands (precision.ts). Operands are
 *   stored at the op's own widths; results leave at the width of the op that reads them next. With
 *   `activations: "on-chip"` a GEMM whose input and results fit the ifmap SRAM keeps them there
 *   (on-chip.ts): only weights, an attention product's B and spilled partial sums cross DRAM.
 * - **Side work** goes to its unit: the trace's vector ops and the requantiser on every GEMM output to
 *   the vector unit (unless the next op is a GEMM whose A the threshold unit quantises instead),
 *   threshold-quantised operands to the threshold unit, noisy ones to the noise adder, twin-uniform
 *   ones through the PTQ4ViT shifter (inline: counted, no cycles).
 * - **Overlap** (arch option): `serial` adds all side work after the array; `overlapped` runs the
 *   side work feeding a GEMM (the vector ops since the previous GEMM, then its own quantisers and
 *   requantiser) tile by tile under that GEMM's array cycles, so only what exceeds them adds latency.
 *
 * Every op's `cycles` is what it adds to the latency, so they sum to the total exactly.
 */
import { UserError } from '../config/errors.js';
import { dramBytesPerCycle, peakOpsPerSecond, type Accelerator, type VectorWork } from './arch.js';
import { noActions, sumActions, type Actions, type MacActions } from './actions.js';
import type { Gemm } from './gemm.js';
import { newShortcutMemo, simulateGemm, type NativeGemmResult, type ShortcutMemo } from './native.js';
import { onChipActivationTiming } from './on-chip.js';
import { noiseWork } from './noise-adder.js';
import { precisionMode, reductionSteps } from './precision.js';
import { thresholdWork } from './threshold-unit.js';
import { vectorWork } from './vector-unit.js';
import type { GemmOp, Op, OpKind, OperandStats, VectorOp } from '../trace/ops.js';
import type { Trace } from '../trace/trace.js';

export type Bound = 'compute' | 'memory';

export interface OpResult {
  index: number;
  name: string;
  kind: OpKind;
  /** Cycles this op adds to the latency; the ops' cycles sum to the total. */
  cycles: number;
  /** GEMM: array cycles with an ideal memory (folds × cycles per fold × count); 0 for vector ops. */
  computeCycles: number;
  /** GEMM: array cycles lost waiting for DRAM (initial fill, mid-run stalls, final write-back). */
  stallCycles: number;
  /** Busy cycles of the units around the array charged to this op. */
  unitCycles: { vector: number; threshold: number; noise: number };
  /** Of those, the cycles hidden under a GEMM's array cycles (overlap `overlapped`). */
  hiddenCycles: number;
  /** GEMM: MACs / (PEs · MACs per PE-cycle at its widths · array cycles). Vector op: busy lanes / lanes. */
  utilisation: number;
  /**
   * GEMM: `memory` when moving its DRAM bytes at the design's bandwidth takes longer than its compute
   * cycles (dramCycles > computeCycles), else `compute`. Vector ops work on chip: `compute`.
   */
  bound: Bound;
  /** DRAM bytes / bytes per cycle: the cycles the interface needs for this op's traffic. */
  dramCycles: number;
  /** Whether the op's activations stayed in the ifmap SRAM (arch `activations`; vector ops always work on chip). */
  onChipActivations: boolean;
  macs: number;
  actions: Actions;
}

export interface Simulation {
  arch: string;
  model: string;
  batch: number;
  clockHz: number;
  ops: OpResult[];
  totals: {
    cycles: number;
    computeCycles: number;
    stallCycles: number;
    hiddenCycles: number;
    latencySeconds: number;
    inferencesPerSecond: number;
    macs: number;
    /** 2 · MACs / latency: the operations per second the design sustains on this trace. */
    effectiveOpsPerSecond: number;
    /** 2 · PEs · clock at the PE's native widths. */
    peakOpsPerSecond: number;
    actions: Actions;
  };
  /** Distinct GEMM shapes sent to the native cycle model (identical shapes are simulated once). */
  gemmEvaluations: number;
}

/** Simulates one inference of `trace` on `arch`. Pure; identical GEMMs are simulated once per call. */
export function simulateTrace(arch: Accelerator, trace: Trace): Simulation {
  const memo: GemmMemo = { gemms: new Map(), shortcuts: newShortcutMemo() };
  const arrayCycles: number[] = new Array<number>(trace.ops.length).fill(0);
  const ops = trace.ops.map((op, i) => (op.kind === 'gemm' ? gemmOp(arch, op, i, trace.ops[i + 1], memo, arrayCycles) : vectorOp(arch, op, i)));
  const hidden = hiddenCycles(arch, trace.ops, ops, arrayCycles);
  ops.forEach((o, i) => {
    o.hiddenCycles = hidden[i];
    o.cycles = arrayCycles[i] + sideCycles(o) - hidden[i];
  });
  const cycles = ops.reduce((s, o) => s + o.cycles, 0);
  const macs = ops.reduce((s, o) => s + o.macs, 0);
  const latencySeconds = cycles / arch.clockHz;
  return {
    arch: arch.name,
    model: trace.model,
    batch: trace.batch,
    clockHz: arch.clockHz,
    ops,
    totals: {
      cycles,
      computeCycles: ops.reduce((s, o) => s + o.computeCycles, 0),
      stallCycles: ops.reduce((s, o) => s + o.stallCycles, 0),
      hiddenCycles: ops.reduce((s, o) => s + o.hiddenCycles, 0),
      latencySeconds,
      inferencesPerSecond: trace.batch / latencySeconds,
      macs,
      effectiveOpsPerSecond: (2 * macs) / latencySeconds,
      peakOpsPerSecond: peakOpsPerSecond(arch),
      actions: sumActions(ops.map((o) => o.actions)),
    },
    gemmEvaluations: memo.gemms.size,
  };
}

/**
 * A GEMM op's result before overlap is decided (cycles and hiddenCycles 0); its array cycles go to
 * `arrayCycles[index]`.
 */
function gemmOp(arch: Accelerator, op: GemmOp, index: number, next: Op | undefined, memo: GemmMemo, arrayCycles: number[]): OpResult {
  const where = `ops[${index}] (${op.name})`;
  const mode = precisionMode(arch.pe, op.actBits, op.weightBits);
  const k = reductionSteps(mode, op.k);
  // One reduction step reads fused/passes operands of each kind: the word a PE takes per cycle.
  const stepActBits = (op.actBits * mode.fused) / mode.passes;
  const stepWeightBits = (op.weightBits * mode.fused) / mode.passes;
  const outputBits = next === undefined ? op.actBits : next.kind === 'gemm' ? next.actBits : next.inBits;
  const c = op.count;
  const onChip = arch.activations === 'on-chip' && fitsOnChip(arch, op, outputBits);
  const key = `${op.m},${k},${op.n},${stepActBits},${stepWeightBits},${outputBits},${onChip}`;
  let g = memo.gemms.get(key);
  if (g === undefined) {
    g = gemmOnArray(arch, { m: op.m, k, n: op.n }, stepActBits, stepWeightBits, outputBits, onChip, where, memo.shortcuts);
    memo.gemms.set(key, g);
  }
  const macs = op.m * op.k * op.n * c;
  const actions = noActions();
  const mac: MacActions = { actBits: op.actBits, weightBits: op.weightBits, accBits: op.accBits, count: macs };
  const zero = zeroOperandFraction(op.stats?.a, op.stats?.b);
  if (zero !== undefined) mac.zeroOperandFraction = zero;
  actions.macs.push(mac);
  const { sram } = g.native;
  actions.sram.push(
    // On chip, A was written into the ifmap SRAM by its producer (counted there), not filled from DRAM.
    { buffer: 'ifmap', wordBits: stepActBits, reads: sram.ifmap.reads * c, writes: onChip ? 0 : sram.ifmap.writes * c },
    { buffer: 'filter', wordBits: stepWeightBits, reads: sram.filter.reads * c, writes: sram.filter.writes * c },
    { buffer: 'ofmap', wordBits: arch.pe.accBits, reads: sram.ofmap.reads * c, writes: sram.ofmap.writes * c },
  );
  if (onChip) actions.sram.push({ buffer: 'ifmap', wordBits: outputBits, reads: 0, writes: op.m * op.n * c });
  actions.dram = { readBytes: g.dram.readBytes * c, writeBytes: g.dram.writeBytes * c };

  // Results pass the requantiser on their way to the next op's width, unless the next op is a GEMM
  // whose A is threshold-quantised: N2UQ's comparators replace the requantiser (counted on that op).
  const unitCycles = { vector: 0, threshold: 0, noise: 0 };
  if (!(next?.kind === 'gemm' && next.actQuant.kind === 'threshold')) {
    const requant = vectorWork(arch.vector, 'requant', op.m * op.n * c, op.m * c);
    actions.vector.push(...requant.actions.vector);
    unitCycles.vector = requant.cycles;
  }
  const operands = [
    { quant: op.actQuant, elements: op.m * op.k * c, channels: op.k, bits: op.actBits, what: 'A' },
    ...(op.bQuant ? [{ quant: op.bQuant, elements: op.k * op.n * c, channels: 0, bits: op.weightBits, what: 'B' }] : []),
  ];
  for (const { quant, elements, channels, bits, what } of operands) {
    const here = `${arch.name}: ${where} operand ${what}`;
    if (quant.kind === 'threshold') {
      const t = thresholdWork(arch.threshold, elements, quant.levels, here);
      unitCycles.threshold += t.cycles;
      actions.comparisons.push(...t.actions.comparisons);
    } else if (quant.kind === 'noisy') {
      // A's noise table is per input channel (K); an activation B's channels are checked by the quantizer that wrote it.
      const n = noiseWork(arch.noise, elements, channels, here);
      unitCycles.noise += n.cycles;
      actions.noise.push(...n.actions.noise);
    } else if (quant.kind === 'twin-uniform') {
      if (!arch.twinUniform) throw new UserError(`${here} is twin-uniform (PTQ4ViT), but the design has no twin-uniform support (twinUniform is false)`);
      actions.twinShifts.push({ bits, count: elements });
    }
  }

  arrayCycles[index] = g.totalCycles * c;
  const dramCycles = ((g.dram.readBytes + g.dram.writeBytes) * c) / dramBytesPerCycle(arch);
  const computeCycles = g.native.computeCycles * c;
  return {
    index,
    name: op.name,
    kind: op.kind,
    cycles: 0,
    computeCycles,
    stallCycles: g.stallCycles * c,
    unitCycles,
    hiddenCycles: 0,
    utilisation: macs / (arch.array.rows * arch.array.cols * mode.macsPerCycle * arrayCycles[index]),
    bound: dramCycles > computeCycles ? 'memory' : 'compute',
    dramCycles,
    onChipActivations: onChip,
    macs,
    actions,
  };
}

/**
 * What one simulateTrace call remembers: each GEMM shape's result, and the native model's solved
 * shortened GEMMs (shapes that differ only in their number of middle folds share one).
 */
interface GemmMemo {
  gemms: Map<string, GemmOnArray>;
  shortcuts: ShortcutMemo;
}

/** One GEMM of an op on the array: the native model's counts, and the timing and DRAM traffic that apply. */
interface GemmOnArray {
  native: NativeGemmResult;
  totalCycles: number;
  stallCycles: number;
  dram: { readBytes: number; writeBytes: number };
}

function gemmOnArray(
  arch: Accelerator,
  gemm: Gemm,
  stepActBits: number,
  stepWeightBits: number,
  outputBits: number,
  onChip: boolean,
  where: string,
  shortcuts: ShortcutMemo,
): GemmOnArray {
  const stored = { ...arch, pe: { ...arch.pe, actBits: stepActBits, weightBits: stepWeightBits } };
  try {
    const native = simulateGemm(stored, gemm, { outputBits, memo: shortcuts });
    if (!onChip) return { native, totalCycles: native.totalCycles, stallCycles: native.stallCycles, dram: native.dram };
    return { native, ...onChipActivationTiming(stored, gemm, outputBits, native.computeCycles) };
  } catch (err) {
    // The native model names the design; say which op it was refusing.
    if (err instanceof UserError) throw new UserError(`${arch.name}: ${where}: ${err.message.replace(`${arch.name}: `, '')}`);
    throw err;
  }
}

/** Whether A and the results (all `count` GEMMs' worth) fit the ifmap SRAM together. */
function fitsOnChip(arch: Accelerator, op: GemmOp, outputBits: number): boolean {
  const inputBytes = Math.ceil((op.m * op.k * op.count * op.actBits) / 8);
  const outputBytes = Math.ceil((op.m * op.n * op.count * outputBits) / 8);
  return inputBytes + outputBytes <= arch.sram.ifmapBytes;
}

/**
 * A vector op works on chip: it reads its inputs from and writes its result to the activation
 * buffer (ifmap SRAM). It adds no DRAM traffic: with activations in DRAM, the GEMM model already moves
 * every GEMM's operands and results across the DRAM interface; on chip, they never leave.
 */
function vectorOp(arch: Accelerator, op: VectorOp, index: number): OpResult {
  const elements = op.rows * op.cols * op.count;
  const vectors = op.rows * op.count;
  const work: VectorWork = op.kind;
  const v = vectorWork(arch.vector, work, elements, vectors);
  const actions = noActions();
  actions.vector.push(...v.actions.vector);
  const inputs = op.kind === 'add' ? 2 : 1;
  const outputs = op.kind === 'avgpool' ? vectors : elements;
  actions.sram.push({ buffer: 'ifmap', wordBits: op.inBits, reads: inputs * elements, writes: 0 }, { buffer: 'ifmap', wordBits: op.outBits, reads: 0, writes: outputs });
  return {
    index,
    name: op.name,
    kind: op.kind,
    cycles: 0,
    computeCycles: 0,
    stallCycles: 0,
    unitCycles: { vector: v.cycles, threshold: 0, noise: 0 },
    hiddenCycles: 0,
    utilisation: elements / (arch.vector.lanes * Math.ceil(elements / arch.vector.lanes)),
    bound: 'compute',
    dramCycles: 0,
    onChipActivations: true,
    macs: 0,
    actions,
  };
}

/**
 * Side-unit cycles hidden under array cycles, per op. Serial: none. Overlapped: the side work that
 * feeds a GEMM — the vector ops since the previous GEMM, in order, then the GEMM's own quantisers and
 * requantiser — fills that GEMM's array cycles first come, first hidden; vector ops after the last
 * GEMM have nothing to hide under.
 */
function hiddenCycles(arch: Accelerator, ops: readonly Op[], busy: readonly OpResult[], arrayCycles: readonly number[]): number[] {
  const hidden = new Array<number>(ops.length).fill(0);
  if (arch.overlap === 'serial') return hidden;
  let pending: number[] = [];
  ops.forEach((op, i) => {
    if (op.kind !== 'gemm') {
      pending.push(i);
      return;
    }
    let capacity = arrayCycles[i];
    for (const j of [...pending, i]) {
      hidden[j] = Math.min(sideCycles(busy[j]), capacity);
      capacity -= hidden[j];
    }
    pending = [];
  });
  return hidden;
}

function sideCycles(op: Pick<OpResult, 'unitCycles'>): number {
  return op.unitCycles.vector + op.unitCycles.threshold + op.unitCycles.noise;
}

/** P(a = 0 or b = 0) for independent operands; undefined when the trace measured neither. */
function zeroOperandFraction(a: OperandStats | undefined, b: OperandStats | undefined): number | undefined {
  if (a === undefined && b === undefined) return undefined;
  const za = a?.zeroFraction ?? 0;
  const zb = b?.zeroFraction ?? 0;
  return za + zb - za * zb;
}
