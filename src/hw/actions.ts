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
  const macs = new Merged<MacActions & { zeros: number; measured: boolean }>();
  const sram = new Merged<SramActions>();
  const comparisons = new Merged<{ bits: number; count: number }>();
  const noise = new Merged<{ bits: number; additions: number; tableReads: number }>();
  const vector = new Merged<{ kind: LaneOp; bits: number; count: number }>();
  const shifts = new Merged<{ bits: number; count: number }>();
  for (const a of list) {
    for (const m of a.macs) {
      const into = macs.entry(m.actBits, m.weightBits, m.accBits, () => ({ actBits: m.actBits, weightBits: m.weightBits, accBits: m.accBits, count: 0, zeros: 0, measured: false }));
      into.count += m.count;
      into.zeros += m.count * (m.zeroOperandFraction ?? 0);
      into.measured ||= m.zeroOperandFraction !== undefined;
    }
    for (const s of a.sram) {
      const into = sram.entry(s.buffer, s.wordBits, 0, () => ({ buffer: s.buffer, wordBits: s.wordBits, reads: 0, writes: 0 }));
      into.reads += s.reads;
      into.writes += s.writes;
    }
    out.dram.readBytes += a.dram.readBytes;
    out.dram.writeBytes += a.dram.writeBytes;
    for (const c of a.comparisons) comparisons.entry(c.bits, 0, 0, () => ({ bits: c.bits, count: 0 })).count += c.count;
    for (const n of a.noise) {
      const into = noise.entry(n.bits, 0, 0, () => ({ bits: n.bits, additions: 0, tableReads: 0 }));
      into.additions += n.additions;
      into.tableReads += n.tableReads;
    }
    for (const v of a.vector) vector.entry(v.kind, v.bits, 0, () => ({ kind: v.kind, bits: v.bits, count: 0 })).count += v.count;
    for (const t of a.twinShifts) shifts.entry(t.bits, 0, 0, () => ({ bits: t.bits, count: 0 })).count += t.count;
  }
  out.macs = macs.entries.map(({ zeros, measured, ...m }) => (measured ? { ...m, zeroOperandFraction: zeros / m.count } : m));
  out.sram = sram.entries;
  out.comparisons = comparisons.entries;
  out.noise = noise.entries;
  out.vector = vector.entries;
  out.twinShifts = shifts.entries;
  return out;
}

/**
 * Entries merged by up to three keys, in the order first seen. Nested Maps instead of one Map keyed
 * by a joined string: summing a trace's actions looks up a thousand entries, and formatting the
 * widths into key strings was most of that time.
 */
class Merged<T> {
  readonly entries: T[] = [];
  private readonly index = new Map<string | number, Map<number, Map<number, T>>>();

  /** The entry for (a, b, c), made by `make` the first time. */
  entry(a: string | number, b: number, c: number, make: () => T): T {
    let byB = this.index.get(a);
    if (byB === undefined) this.index.set(a, (byB = new Map()));
    let byC = byB.get(b);
    if (byC === undefined) byB.set(b, (byC = new Map()));
    let into = byC.get(c);
    if (into === undefined) {
      into = make();
      byC.set(c, into);
      this.entries.push(into);
    }
    return into;
  }
}
