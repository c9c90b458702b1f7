/**
 * PTQ4ViT's twin-uniform operands (../shared/QUANT-METHODS.md §4a, §4d). A twin code is a range flag
 * plus a (b−1)-bit magnitude; the two ranges' steps differ by 2^m, so the consuming GEMM keeps two
 * accumulators per output, selected by the flag, and combines them once per output:
 *
 *   acc = acc_small + (acc_large << m)        in units of the small step
 *
 * The partial accumulators each have the array's accumulator width; the shift-add result is m bits
 * wider and goes straight into the requantizer (which is exact for any width).
 *
 * - twin-softmax on P (P·V's A operand): flag = P > 2^−i, a comparator on the integer probability
 *   (P at scale 2^−15: P > 2^(15−i)); small step 2^−i/(2^(b−1)−1), large 1/(2^(b−1)−1), m = i.
 * - twin-gelu on fc2's input: flag = sign (free); negative step negScale, positive negScale·2^m.
 */
import type { TwinGeluQuant, TwinSoftmaxQuant } from '../quant/spec.js';
import { OUT_FRACTION_BITS } from './ivit.js';

/** log2 of large step / small step. */
export function twinShift(q: TwinSoftmaxQuant | TwinGeluQuant): number {
  return q.kind === 'twin-softmax' ? q.splitExponent : q.posShift;
}

/** The integer split point of twin-softmax on probabilities at scale 2^−15: flag = P > split. */
export function softmaxSplit(q: TwinSoftmaxQuant): number {
  return Math.floor(2 ** (OUT_FRACTION_BITS - q.splitExponent));
}

/** acc_small + acc_large·2^m into out (exact while the result stays below 2^53; partials are ≤ 53-bit). */
export function combineTwin(small: Float64Array, large: Float64Array, shift: number, out: Float64Array, count: number): void {
  const factor = 2 ** shift;
  for (let i = 0; i < count; i++) out[i] = small[i] + large[i] * factor;
}
