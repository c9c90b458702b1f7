/**
 * I-BERT's integer polynomial kernels (Kim et al., ICML'21; ../shared/QUANT-METHODS.md §8.3), the
 * optional nonlinear set (`nonlinear: 'ibert'`): second-order polynomials instead of I-ViT's shifts,
 * closer to the float functions at the cost of a multiplier per element. LayerNorm is shared with
 * I-ViT (its integer square root is exactly I-BERT's i-sqrt; ivit.ts).
 *
 * i-exp(q), q ≤ 0 at scale S: x0 = ⌊−ln2/S⌋, q = max(q, 30·x0), k = ⌊q/x0⌋, r = q − k·x0 ∈ (−ln2, 0],
 *   exp(r) ≈ a·(r² + b·r + c) with a = 0.35815147, b = 0.96963238/a, c = 1/a
 *   z = r·(r + ⌊b/S⌋) + ⌊c/S²⌋ (scale a·S²),  E = ⌊z / 2^k⌋.
 * i-GELU(q) at scale S: erf(x) ≈ sign(x)·(A·(min(|x|, −B) + B)² + 1), A = −0.2888, B = −1.769, on x/√2;
 *   GELU = q·(erf_int + ⌊1/(A·S'²)⌋) at scale S·A·S'²/2 (negative: A < 0; the requantizer takes the sign).
 * As in ivit.ts the input is first shifted to a fixed resolution (−x0 in [2^10, 2^11) for exp, −⌊B/S'⌋ in
 * [2^12, 2^13) for erf), and the softmax divides with a reciprocal of 16 significant bits.
 */
import { EXP_INPUT_BITS, normaliseRow, reciprocalBits } from './ivit.js';
import { roundShift } from './requant.js';

const EXP_A = 0.35815147;
const EXP_B = 0.96963238 / EXP_A;
const EXP_C = 1 / EXP_A;
const EXP_CLIP = 30;
const ERF_A = -0.2888;
const ERF_B = -1.769;
const ERF_INPUT_BITS = 12;

export interface IExpConstants {
  shift: number;
  x0: number;
  bInt: number;
  cInt: number;
}

export function iExpConstants(scale: number): IExpConstants {
  if (!(scale > 0 && Number.isFinite(scale))) throw new Error(`iExpConstants: scale must be positive and finite, got ${scale}`);
  const shift = Math.floor(Math.log2(Math.LN2 / scale)) - EXP_INPUT_BITS;
  const s = scale * 2 ** shift;
  return { shift, x0: Math.floor(-Math.LN2 / s), bInt: Math.floor(EXP_B / s), cInt: Math.floor(EXP_C / (s * s)) };
}

/** e^(q·S) ≈ iExp(q) / cInt for integer q ≤ 0. */
export function iExp(q: number, c: IExpConstants): number {
  let x = c.shift > 0 ? roundShift(q, c.shift) : q * 2 ** -c.shift;
  if (x < EXP_CLIP * c.x0) x = EXP_CLIP * c.x0;
  const k = Math.floor(x / c.x0);
  const r = x - k * c.x0;
  const z = r * (r + c.bInt) + c.cInt;
  return Math.floor(z / 2 ** k);
}

export interface IBertSoftmaxConstants {
  exp: IExpConstants;
  reciprocalBits: number;
}

export function iSoftmaxConstants(scale: number, keys: number): IBertSoftmaxConstants {
  const exp = iExpConstants(scale);
  return { exp, reciprocalBits: reciprocalBits(keys * exp.cInt) };
}

/** One softmax row (same contract as shiftmaxRow): probabilities at scale 2^−15. */
export function iSoftmaxRow(
  scores: Float64Array, from: number, count: number, out: Float64Array, outFrom: number, c: IBertSoftmaxConstants, e: Float64Array,
): void {
  let max = -Infinity;
  for (let j = 0; j < count; j++) if (scores[from + j] > max) max = scores[from + j];
  let sum = 0;
  for (let j = 0; j < count; j++) {
    const v = iExp(scores[from + j] - max, c.exp);
    e[j] = v;
    sum += v;
  }
  normaliseRow(e, count, sum, out, outFrom, c.reciprocalBits);
}

export interface IGeluConstants {
  shift: number;
  bInt: number;
  cInt: number;
  /** Real value of one output step per unit of the input scale: GELU ≈ out · S · outScale. */
  outScale: number;
}

export function iGeluConstants(scale: number): IGeluConstants {
  if (!(scale > 0 && Number.isFinite(scale))) throw new Error(`iGeluConstants: scale must be positive and finite, got ${scale}`);
  const erfScale = scale / Math.SQRT2;
  const shift = Math.floor(Math.log2(-ERF_B / erfScale)) - ERF_INPUT_BITS;
  const s = erfScale * 2 ** shift;
  return { shift, bInt: Math.floor(ERF_B / s), cInt: Math.floor(1 / (ERF_A * s * s)), outScale: (ERF_A * s * s) / 2 };
}

/** GELU(q·S) ≈ iGelu(q) · S · outScale. */
export function iGelu(q: number, c: IGeluConstants): number {
  const x = c.shift > 0 ? roundShift(q, c.shift) : q * 2 ** -c.shift;
  const abs = Math.min(Math.abs(x), -c.bInt);
  const poly = (abs + c.bInt) * (abs + c.bInt) + c.cInt;
  const erf = x > 0 ? poly : x < 0 ? -poly : 0;
  return q * (erf + c.cInt);
}
