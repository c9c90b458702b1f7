/**
 * What the hardware does in one op or one inference, as counts: the input the energy model prices
 * (cost/ turns these into ActionCounts). Nothing here knows a picojoule.
 */
import type { BufferName } from './native.js';

/** The operations a vector lane performs; transcendental functions reach it already decomposed into these. */
export type LaneOp = 'add' | 'multiply' | 'compare' | 'shift' | 'divide';
export const LANE_OPS: readonly LaneOp[] = ['add', 'multiply', 'compare', 'shift', 'divide'];

/** MACs at one precision; `zeroOperandFraction` (from the trace's operand statistics) is the share with a zero operand. */
export interface MacActions {
  actBits: number;
  weightBits: number;
  accBits: number;
  count: number;
  zeroOperandFraction?: number;
}

/** Accesses to one buffer in words of `wordBits` (what one access delivers to or takes from the array). */
export interface SramActions {
  buffer: BufferName;
  wordBits: number;
  reads: number;
  writes: number;
}

export interface Actions {
  macs: MacActions[];
  sram: SramActions[];
  dram: { readBytes: number; writeBytes: number };
  /** Threshold-unit comparator evaluations at a width. */
  comparisons: { bits: number; count: number }[];
  /** Noise-adder additions and noise-table reads (one entry each) at the adder width. */
  noise: { bits: number; additions: number; tableReads: number }[];
  /** Vector-lane operations by kind and width. */
  vector: { kind: LaneOp; bits: number; count: number }[];
  /** Twin-uniform operands realigned by the PTQ4ViT shifter (flag bit set or not, each passes it). */
  twinShifts: { bits: number; count: number }[];
}

export function noActions(): Actions {
  return { macs: [], sram: [], dram: { readBytes: 0, writeBytes: 0 }, comparisons: [], noise: [], vector: [], twinShifts: [] };
}

/** The sum of several ops' actions, entries of the same kind and widths merged (MACs keep their zero fraction as a weighted mean). */
export function sumActions(list: readonly Actions[]): Actions {
  const out = noActions();
  const macs = new Map<string, MacActions & { zeros: number; measured: boolean }>();
  const sram = new Map<string, SramActions>();
  const comparisons = new Map<number, { bits: number; count: number }>();
  const noise = new Map<number, { bits: number; additions: number; tableReads: number }>();
  const vector = new Map<string, { kind: LaneOp; bits: number; count: number }>();
  const shifts = new Map<number, { bits: number; count: number }>();
  for (const a of list) {
    for (const m of a.macs) {
      const key = `${m.actBits},${m.weightBits},${m.accBits}`;
      const into = macs.get(key) ?? { actBits: m.actBits, weightBits: m.weightBits, accBits: m.accBits, count: 0, zeros: 0, measured: false };
      into.count += m.count;
      into.zeros += m.count * (m.zeroOperandFraction ?? 0);
      into.measured ||= m.zeroOperandFraction !== undefined;
      macs.set(key, into);
    }
    for (const s of a.sram) {
      const key = `${s.buffer},${s.wordBits}`;
      const into = sram.get(key) ?? { buffer: s.buffer, wordBits: s.wordBits, reads: 0, writes: 0 };
      into.reads += s.reads;
      into.writes += s.writes;
      sram.set(key, into);
    }
    out.dram.readBytes += a.dram.readBytes;
    out.dram.writeBytes += a.dram.writeBytes;
    for (const c of a.comparisons) {
      const into = comparisons.get(c.bits) ?? { bits: c.bits, count: 0 };
      into.count += c.count;
      comparisons.set(c.bits, into);
    }
    for (const n of a.noise) {
      const into = noise.get(n.bits) ?? { bits: n.bits, additions: 0, tableReads: 0 };
      into.additions += n.additions;
      into.tableReads += n.tableReads;
      noise.set(n.bits, into);
    }
    for (const v of a.vector) {
      const key = `${v.kind},${v.bits}`;
      const into = vector.get(key) ?? { kind: v.kind, bits: v.bits, count: 0 };
      into.count += v.count;
      vector.set(key, into);
    }
    for (const t of a.twinShifts) {
      const into = shifts.get(t.bits) ?? { bits: t.bits, count: 0 };
      into.count += t.count;
      shifts.set(t.bits, into);
    }
  }
  out.macs = [...macs.values()].map(({ zeros, measured, ...m }) => (measured ? { ...m, zeroOperandFraction: zeros / m.count } : m));
  out.sram = [...sram.values()];
  out.comparisons = [...comparisons.values()];
  out.noise = [...noise.values()];
  out.vector = [...vector.values()];
  out.twinShifts = [...shifts.values()];
  return out;
}
