/**
 * I-ViT's integer-only nonlinear kernels (Li & Gu, ICCV'23; ../shared/QUANT-METHODS.md §8.1): the
 * default of the integer datapath. Everything is shifts, adds, one multiply per element and one
 * integer division per row (softmax) or element (GELU), on integers that a float64 holds exactly.
 *
 * ShiftExp(q), q ≤ 0 with scale S, approximates e^(q·S):
 *   p = q + (q >> 1) − (q >> 4)          ≈ q·log2(e)      (1.4375)
 *   p = max(p, n·x0),  x0 = ⌊−1/S⌋        x0 is −1.0
 *   k = ⌊p / x0⌋,  r = p − k·x0 ∈ (x0, 0]  2^(p·S) = 2^−k · 2^(r·S)
 *   E = (⌊r/2⌋ − x0) << (n − k)           2^(r·S) ≈ 1 + r·S/2;  E·S/(−x0)… "1.0" is −x0·2^n
 *
 * Two choices I-ViT leaves open, frozen here (docs/integer-engine.md):
 * - The input is first brought to a scale whose −x0 lies in [2^10, 2^11) by an arithmetic shift
 *   (right, rounded, when the scale is finer; left, exact, when it is coarser), so ⌊r/2⌋ always has
 *   ten bits to work with whatever the quantizers upstream chose.
 * - The row sum is divided as f = ⌊2^F / Σ⌋ with F chosen so that f keeps 16 significant bits and
 *   E·f < 2^53 (I-ViT's (2^31 − 1)/Σ keeps only 31 − log2 Σ bits, five for a normalised input).
 * Outputs are at scale 2^−15 (OUT_FRACTION_BITS): probabilities 0…2^15, sigmoids likewise.
 *
 * ShiftGELU uses x·σ(1.702·x) as I-ViT, but takes σ of −|x| and mirrors it (σ(t) = 1 − σ(−t)) instead
 * of subtracting the row maximum: the exponent is then never positive, no row reduction is needed,
 * and σ keeps its resolution where the row maximum would have crushed it.
 *
 * I-LayerNorm: μ = round(Σq / C), y = q − μ, v = Σ y² (up to 40 bits for a 16-bit stream and C = 64:
 * LN_SUM_BITS), k = ⌊√v⌋ exactly (the fixed point of I-ViT's Newton iteration, reached here by a
 * corrected float sqrt), f = ⌊(2^31 − 1)/k⌋, ŷ = (y·f) >> 1: ŷ·√C / 2^30 is the normalised value.
 */

/** Fraction bits of the softmax and sigmoid outputs (scale 2^−15, as I-ViT's 16-bit IntSoftmax). */
export const OUT_FRACTION_BITS = 15;

/** −x0 is brought into [2^EXP_INPUT_BITS, 2^(EXP_INPUT_BITS + 1)). */
export const EXP_INPUT_BITS = 10;

/** Width of I-LayerNorm's Σy² for a 16-bit residual stream and C channels: 2·17 + log2 C bits. */
export function layerNormSumBits(channels: number): number {
  return 34 + Math.ceil(Math.log2(channels));
}

export interface ShiftExpConstants {
  /** Arithmetic shift applied to q first: > 0 right (rounded), < 0 left. */
  shift: number;
  /** ⌊−1/S'⌋ for the shifted scale S' = S·2^shift (the real factor, 1.702 for GELU, folded in). */
  x0: number;
  /** Output shift: E = e << (n − k). */
  n: number;
  /** Precomputed for the hot loop: 2^−shift (or 2^(−shift) as a left-shift factor), 2^(shift−1), n·x0. */
  factor: number;
  half: number;
  floorP: number;
}

/** Constants of ShiftExp for inputs at `scale` (times `factor`, GELU's 1.702), output shift n. */
export function shiftExpConstants(scale: number, factor: number, n: number): ShiftExpConstants {
  const s = scale * factor;
  if (!(s > 0 && Number.isFinite(s))) throw new Error(`shiftExpConstants: scale must be positive and finite, got ${s}`);
  const shift = Math.floor(Math.log2(1 / s)) - EXP_INPUT_BITS;
  let x0 = Math.floor(-1 / (s * 2 ** shift));
  // log2 may land one off at exact powers of two; keep −x0 inside [2^10, 2^11].
  if (-x0 > 2 ** (EXP_INPUT_BITS + 1)) x0 = -(2 ** (EXP_INPUT_BITS + 1));
  return { shift, x0, n, factor: 2 ** -shift, half: shift > 0 ? 2 ** (shift - 1) : 0, floorP: n * x0 };
}

/** e^(q·S) ≈ ShiftExp(q)/(−x0·2^n) for q ≤ 0 (integer); the result is an integer below 2^(n + 11). */
export function shiftExp(q: number, c: ShiftExpConstants): number {
  // x = q >> shift rounded (right), or q << −shift (left); both exact on float64 integers.
  const x = c.shift > 0 ? Math.floor((q + c.half) * c.factor) : q * c.factor;
  let p = x + Math.floor(x * 0.5) - Math.floor(x * 0.0625);
  if (p < c.floorP) p = c.floorP;
  const k = Math.floor(p / c.x0);
  const r = p - k * c.x0;
  return (Math.floor(r * 0.5) - c.x0) * POW2[c.n - k];
}

/** 2^i for i = 0…63, so the hot loops shift by a table lookup. */
const POW2 = Float64Array.from({ length: 64 }, (_, i) => 2 ** i);

/** The integer ShiftExp calls "1.0". */
export function shiftExpOne(c: ShiftExpConstants): number {
  return -c.x0 * 2 ** c.n;
}

export interface SoftmaxConstants {
  exp: ShiftExpConstants;
  /** f = ⌊2^reciprocalBits / Σ⌋. */
  reciprocalBits: number;
}

/** Shiftmax over rows of `keys` scores at `scale`. */
export function shiftmaxConstants(scale: number, keys: number): SoftmaxConstants {
  // Σ ≤ keys·2^11·2^n must leave E·f exact: n so that the sum stays below 2^31, as I-ViT.
  const n = 31 - (EXP_INPUT_BITS + 1) - Math.ceil(Math.log2(Math.max(2, keys)));
  const exp = shiftExpConstants(scale, 1, n);
  return { exp, reciprocalBits: reciprocalBits(keys * shiftExpOne(exp)) };
}

/**
 * One softmax row: scores[from … from + count) (exact integers) → probabilities at scale 2^−15 into
 * out[outFrom …]. `e` is scratch of at least count.
 */
export function shiftmaxRow(
  scores: Float64Array, from: number, count: number, out: Float64Array, outFrom: number, c: SoftmaxConstants, e: Float64Array,
): void {
  let max = -Infinity;
  for (let j = 0; j < count; j++) if (scores[from + j] > max) max = scores[from + j];
  let sum = 0;
  for (let j = 0; j < count; j++) {
    const v = shiftExp(scores[from + j] - max, c.exp);
    e[j] = v;
    sum += v;
  }
  normaliseRow(e, count, sum, out, outFrom, c.reciprocalBits);
}

/** P_j = round(E_j·f / 2^(F − 15)), f = ⌊2^F / Σ⌋: shared by Shiftmax and I-BERT's softmax. */
export function normaliseRow(e: Float64Array, count: number, sum: number, out: Float64Array, outFrom: number, bits: number): void {
  const f = Math.floor(POW2[bits] / sum);
  const pow = POW2[bits - OUT_FRACTION_BITS];
  const inv = 1 / pow;
  const half = pow / 2;
  for (let j = 0; j < count; j++) out[outFrom + j] = Math.floor((e[j] * f + half) * inv);
}

/** F so that f = ⌊2^F/Σ⌋ keeps 16 significant bits for any Σ up to sumBound and E·f ≤ 2^F < 2^53. */
export function reciprocalBits(sumBound: number): number {
  const bits = Math.ceil(Math.log2(sumBound)) + 16;
  if (bits > 52) throw new Error(`softmax/GELU reciprocal would need ${bits} bits (sum bound ${sumBound})`);
  return bits;
}

export interface GeluConstants {
  exp: ShiftExpConstants;
  one: number;
  reciprocalBits: number;
}

/** ShiftGELU for inputs at `scale`. */
export function shiftGeluConstants(scale: number): GeluConstants {
  // E + 1.0 ≤ 2·2^11·2^n must stay below 2^31.
  const n = 31 - (EXP_INPUT_BITS + 2);
  const exp = shiftExpConstants(scale, 1.702, n);
  const one = shiftExpOne(exp);
  return { exp, one, reciprocalBits: reciprocalBits(2 * one) };
}

/** GELU(q·S) ≈ result · S · 2^−15: q · σ(1.702·q·S) with σ at scale 2^−15. */
export function shiftGelu(q: number, c: GeluConstants): number {
  const e = shiftExp(-Math.abs(q), c.exp);
  const f = Math.floor(POW2[c.reciprocalBits] / (e + c.one));
  const pow = POW2[c.reciprocalBits - OUT_FRACTION_BITS];
  const low = Math.floor((e * f + pow / 2) / pow);
  const sigma = q > 0 ? 2 ** OUT_FRACTION_BITS - low : low;
  return q * sigma;
}

/**
 * I-LayerNorm of one row x[from … from + C) (centred residual codes) → ŷ into out[from …]:
 * ŷ·√C / 2^30 ≈ (x − mean)/std.
 */
export function iLayerNormRow(x: Int32Array, from: number, channels: number, out: Float64Array): void {
  let sum = 0;
  for (let i = 0; i < channels; i++) sum += x[from + i];
  const mean = Math.floor((2 * sum + channels) / (2 * channels));
  let squares = 0;
  for (let i = 0; i < channels; i++) {
    const y = x[from + i] - mean;
    squares += y * y;
  }
  const k = Math.max(1, integerSqrt(squares));
  const f = Math.floor((2 ** 31 - 1) / k);
  for (let i = 0; i < channels; i++) out[from + i] = Math.floor(((x[from + i] - mean) * f) / 2);
}

/** ⌊√v⌋ for an integer 0 ≤ v < 2^53: what I-BERT's and I-ViT's Newton iterations converge to. */
export function integerSqrt(v: number): number {
  let k = Math.floor(Math.sqrt(v));
  while (k * k > v) k--;
  while ((k + 1) * (k + 1) <= v) k++;
  return k;
}

/** √C / 2^30: the real value of one step of ŷ before γ. */
export function layerNormStep(channels: number): number {
  return Math.sqrt(channels) / 2 ** 30;
}
