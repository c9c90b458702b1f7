/**
 * How fast one PE multiplies operands of a given width.
 *
 * - A **fixed** PE with native widths (A, W) runs any narrower operand at native speed (it arrives
 *   sign-extended) and a wider one in ceil(b_a/A)·ceil(b_w/W) passes, the partial products shifted
 *   into the same accumulator.
 * - A **bitfusion** PE (Sharma et al., ISCA 2018) is a fusion unit of b-bit bricks whose widest
 *   operands are B × B bits. An operand is rounded up to a brick multiple that divides B (2, 4, 8 …
 *   bits for 2-bit bricks), and the unit then runs (B/b_a)·(B/b_w) MACs per cycle; operands wider
 *   than B take ceil(b/B) passes each, as in a fixed PE.
 *
 * The array model needs one more decision: which GEMM dimension the extra MACs of a fused PE work
 * on. vitsim fuses along the reduction K — the unit's shift-add tree sums its bricks' products into
 * one accumulator, so a fused PE computes a short dot product of `fused` consecutive K elements per
 * cycle — and a pass along K as well (each pass is one more step of the same dot product). The GEMM
 * the array sees is therefore out[M,N] = in[M,K'] · w[K',N] with K' = ceil(K·passes/fused) steps,
 * each step reading fused/passes operands of each kind.
 */
import type { ScalablePe } from './arch.js';

export interface PrecisionMode {
  /** MACs one PE completes per cycle within a pass: 1 for a fixed PE, (B/b_a)·(B/b_w) fused. */
  fused: number;
  /** Cycles one MAC needs for operands wider than the PE: ceil(b_a/A)·ceil(b_w/W). */
  passes: number;
  /** fused / passes: MACs per PE per cycle at these widths. */
  macsPerCycle: number;
  /** Widths the operands occupy in the datapath (rounded up to a brick multiple for bitfusion). */
  actBits: number;
  weightBits: number;
}

/** The mode `pe` runs operands of these widths in. */
export function precisionMode(pe: ScalablePe, actBits: number, weightBits: number): PrecisionMode {
  if (pe.kind === 'fixed') {
    const passes = Math.ceil(actBits / pe.actBits) * Math.ceil(weightBits / pe.weightBits);
    return { fused: 1, passes, macsPerCycle: 1 / passes, actBits: Math.max(actBits, pe.actBits), weightBits: Math.max(weightBits, pe.weightBits) };
  }
  const a = fusedWidth(pe, actBits);
  const w = fusedWidth(pe, weightBits);
  const fused = (pe.actBits / a) * (pe.weightBits / w);
  const passes = Math.ceil(actBits / pe.actBits) * Math.ceil(weightBits / pe.weightBits);
  return { fused, passes, macsPerCycle: fused / passes, actBits: a, weightBits: w };
}

/** Reduction steps the array streams for a K-long dot product: ceil(K·passes / fused). */
export function reductionSteps(mode: PrecisionMode, k: number): number {
  return Math.ceil((k * mode.passes) / mode.fused);
}

/** Peak MACs per second of the whole array at these operand widths. */
export function peakMacsPerSecond(pe: ScalablePe, pes: number, clockHz: number, actBits: number, weightBits: number): number {
  return pes * clockHz * precisionMode(pe, actBits, weightBits).macsPerCycle;
}

/** The brick multiple an operand occupies: brickBits·2^j ≥ bits, at most the unit's width. */
function fusedWidth(pe: ScalablePe, bits: number): number {
  const max = Math.max(pe.actBits, pe.weightBits);
  let width = pe.brickBits;
  while (width < bits && width < max) width *= 2;
  return width;
}
