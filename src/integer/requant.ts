/**
 * Dyadic fixed-point requantization, the one multiply-and-shift every stage of the integer datapath
 * ends with (I-ViT's `fixedpoint_mul`, ../shared/QUANT-METHODS.md §1):
 *
 *   z (integer, scale S_in)  →  round(z · m / 2^e),   m / 2^e ≈ S_in / S_out
 *
 * m is a 31-bit integer mantissa (2^30 ≤ |m| < 2^31, from frexp of the real ratio) and rounding is
 * half toward +∞: add 2^(e−1), then shift right arithmetically by e.
 *
 * z·m reaches 2^62, past what a float64 holds exactly, so the product is split: m = mh·2^16 + ml
 * with |mh| < 2^15 and 0 ≤ |ml| < 2^16. Both z·mh and z·ml are exact doubles while |z| < 2^37, and
 *
 *   floor((z·mh·2^16 + z·ml + 2^(e−1)) / 2^e) = Ah + floor((Al + Bh + 2^(s−1)) / 2^s),   s = e − 16,
 *
 * where A = z·mh = Ah·2^s + Al (0 ≤ Al < 2^s) and Bh = floor(z·ml / 2^16): the low 16 bits of z·ml
 * cannot carry into bit e because 2^(e−1) is a multiple of 2^16. Every term is an exact integer
 * below 2^53, so the result is exactly the BigInt one (the tests compare the two). The same identity
 * holds for a sum of two products sharing e (the residual add), which is why `requantizeSum` exists.
 * Outside the fast path (|z| ≥ 2^37, e ≤ 16) the BigInt form runs.
 *
 * The tables the engine's loops use (`requantizeAt`, `requantizeSumAt`) first try one float multiply:
 * with M = m·2^−e (exact as a double), v = fl(z·M + ½) is within 2^−22 of the true z·M + ½ whenever
 * |v| < 2^30, so ⌊v⌋ is the exact result unless v lies within 2^−20 of an integer — and only then
 * (about one call in 10^5) does the split product run. Same bits, a third of the work.
 */

/** m·2^−e ≈ a real ratio, with the split form the fast path multiplies by. */
export interface Dyadic {
  /** Integer mantissa, |m| < 2^31 (0 for a zero ratio). */
  m: number;
  /** Right shift. */
  e: number;
  /** m = mh·2^16 + ml, both carrying m's sign. */
  mh: number;
  ml: number;
}

/** Bits of the mantissa (I-ViT's `batch_frexp` uses 31). */
export const MANTISSA_BITS = 31;

/** Largest shift whose rounding addend and remainder stay exact in the fast path (Al + Bh + 2^(s−1) < 2^53). */
export const MAX_SHIFT = 68;

/** Below this |z| the split products stay exact. */
export const FAST_LIMIT = 2 ** 37;

/** The same for each term of a sum of two products. */
const SUM_LIMIT = 2 ** 36;

const INV_65536 = 2 ** -16;

/** The float shortcut: results below 2^30 carry < 2^−22 of rounding error, kept 2^−20 from an integer. */
const FLOAT_LIMIT = 2 ** 30;
const HALF_FLOAT_LIMIT = 2 ** 29;
const MARGIN = 2 ** -20;

/** The dyadic form of a finite real ratio: mantissa from frexp, rounded half up to 31 bits. */
export function dyadic(ratio: number): Dyadic {
  if (!Number.isFinite(ratio)) throw new Error(`dyadic: ratio must be finite, got ${ratio}`);
  if (ratio === 0) return split(0, 31);
  const x = Math.floor(Math.log2(Math.abs(ratio))) + 1;
  // |ratio| = f·2^x with f in [0.5, 1); log2 can be one off at powers of two, so correct it.
  let exp = x;
  let f = Math.abs(ratio) / 2 ** exp;
  if (f >= 1) {
    exp += 1;
    f /= 2;
  } else if (f < 0.5) {
    exp -= 1;
    f *= 2;
  }
  let m = Math.floor(f * 2 ** MANTISSA_BITS + 0.5);
  if (m === 2 ** MANTISSA_BITS) {
    m /= 2;
    exp += 1;
  }
  let e = MANTISSA_BITS - exp;
  // A ratio below 2^−37 gives a shift past the fast path's limit: drop mantissa bits (the result
  // of any |z| < 2^37 is then 0 or ±1 anyway, and the dropped bits sit 2^−31 below the ratio).
  if (e > MAX_SHIFT) {
    m = Math.floor(m / 2 ** (e - MAX_SHIFT) + 0.5);
    e = MAX_SHIFT;
  }
  return split(ratio < 0 ? -m : m, e);
}

/** A dyadic with a given mantissa and shift (exact ratios such as (2^(b−1) − 1)·2^−15). */
export function dyadicOf(m: number, e: number): Dyadic {
  if (!Number.isSafeInteger(m) || Math.abs(m) >= 2 ** 31) throw new Error(`dyadicOf: mantissa must be an integer below 2^31, got ${m}`);
  return split(m, e);
}

/** Several ratios on one shift (the largest decides it), so their products can be summed before rounding. */
export function dyadicCommon(ratios: readonly number[]): Dyadic[] {
  const largest = ratios.reduce((a, r) => Math.max(a, Math.abs(r)), 0);
  const e = dyadic(largest).e;
  return ratios.map((r) => split(Math.floor(r * 2 ** e + 0.5), e));
}

/** The real value m·2^−e. */
export function dyadicValue(d: Dyadic): number {
  return d.m * 2 ** -d.e;
}

/** round(z·m / 2^e), half toward +∞, exact for any integer z. */
export function requantize(z: number, d: Dyadic): number {
  if (d.e > 16 && Math.abs(z) < FAST_LIMIT) {
    const s = d.e - 16;
    const pow = 2 ** s;
    const a = z * d.mh;
    const ah = Math.floor(a / pow);
    const bh = Math.floor((z * d.ml) / 65536);
    return ah + Math.floor((a - ah * pow + bh + pow / 2) / pow);
  }
  const p = z * d.m;
  if (Math.abs(p) < 2 ** 53) return d.e >= 0 ? roundShift(p, d.e) : p * 2 ** -d.e;
  return requantizeBig(z, d);
}

/**
 * A table of dyadics (one per channel, or per token and channel) as flat arrays, for the hot loops:
 * `requantizeAt(z, table, i)` is requantize(z, table's i-th dyadic).
 */
export interface DyadicTable {
  m: Float64Array;
  e: Float64Array;
  mh: Float64Array;
  ml: Float64Array;
  /** 2^(e − 16) and its inverse (multiplying by a power of two is exact, and faster than dividing). */
  pow: Float64Array;
  inv: Float64Array;
  /** m·2^−e as a double (exact: m has 31 bits). */
  ratio: Float64Array;
}

export function dyadicTable(ds: readonly Dyadic[]): DyadicTable {
  return {
    m: Float64Array.from(ds, (d) => d.m),
    e: Float64Array.from(ds, (d) => d.e),
    mh: Float64Array.from(ds, (d) => d.mh),
    ml: Float64Array.from(ds, (d) => d.ml),
    pow: Float64Array.from(ds, (d) => 2 ** (d.e - 16)),
    inv: Float64Array.from(ds, (d) => 2 ** (16 - d.e)),
    ratio: Float64Array.from(ds, (d) => d.m * 2 ** -d.e),
  };
}

export function tableEntry(t: DyadicTable, i: number): Dyadic {
  return { m: t.m[i], e: t.e[i], mh: t.mh[i], ml: t.ml[i] };
}

export function requantizeAt(z: number, t: DyadicTable, i: number): number {
  const v = z * t.ratio[i] + 0.5;
  if (v < FLOAT_LIMIT && v > -FLOAT_LIMIT) {
    const f = Math.floor(v);
    const frac = v - f;
    if (frac > MARGIN && frac < 1 - MARGIN) return f;
  }
  return requantizeExactAt(z, t, i);
}

/** requantizeAt without the float shortcut: the split product. */
export function requantizeExactAt(z: number, t: DyadicTable, i: number): number {
  const pow = t.pow[i];
  if (pow >= 2 && z < FAST_LIMIT && z > -FAST_LIMIT) {
    const inv = t.inv[i];
    const a = z * t.mh[i];
    const ah = Math.floor(a * inv);
    const bh = Math.floor(z * t.ml[i] * INV_65536);
    return ah + Math.floor((a - ah * pow + bh + pow * 0.5) * inv);
  }
  return requantize(z, tableEntry(t, i));
}

/** round((z1·m1 + z2·m2) / 2^e) for two dyadics on the same shift, exact. */
export function requantizeSum(z1: number, d1: Dyadic, z2: number, d2: Dyadic): number {
  if (d1.e !== d2.e) throw new Error(`requantizeSum: shifts differ (${d1.e}, ${d2.e})`);
  if (d1.e > 16 && Math.abs(z1) < 2 ** 36 && Math.abs(z2) < 2 ** 36) {
    const s = d1.e - 16;
    const pow = 2 ** s;
    const a = z1 * d1.mh + z2 * d2.mh;
    const ah = Math.floor(a / pow);
    const bh = Math.floor((z1 * d1.ml + z2 * d2.ml) / 65536);
    return ah + Math.floor((a - ah * pow + bh + pow / 2) / pow);
  }
  return Number(roundShiftBig(BigInt(z1) * BigInt(d1.m) + BigInt(z2) * BigInt(d2.m), d1.e));
}

/** The reference: the same rounding in BigInt. */
export function requantizeBig(z: number, d: Dyadic): number {
  return Number(roundShiftBig(BigInt(z) * BigInt(d.m), d.e));
}

/** floor((v + 2^(e−1)) / 2^e) for e ≥ 1, v·2^−e for e ≤ 0; BigInt's >> is an arithmetic (flooring) shift. */
export function roundShiftBig(v: bigint, e: number): bigint {
  if (e <= 0) return v << BigInt(-e);
  return (v + (1n << BigInt(e - 1))) >> BigInt(e);
}

/** round(v / 2^e) half toward +∞ for an exact integer v < 2^53 (e ≥ 0). */
export function roundShift(v: number, e: number): number {
  if (e === 0) return v;
  const pow = 2 ** e;
  return Math.floor((v + pow / 2) / pow);
}

function split(m: number, e: number): Dyadic {
  const sign = m < 0 ? -1 : 1;
  const abs = Math.abs(m);
  const hi = Math.floor(abs / 65536);
  return { m, e, mh: sign * hi, ml: sign * (abs - hi * 65536) };
}

/** requantizeSum with both dyadics taken from tables at entry i (same shift by construction). */
export function requantizeSumAt(z1: number, t1: DyadicTable, z2: number, t2: DyadicTable, i: number): number {
  const p1 = z1 * t1.ratio[i];
  const p2 = z2 * t2.ratio[i];
  // Each product's rounding error is relative to the product, not to the sum: bound both.
  if (p1 < HALF_FLOAT_LIMIT && p1 > -HALF_FLOAT_LIMIT && p2 < HALF_FLOAT_LIMIT && p2 > -HALF_FLOAT_LIMIT) {
    const v = p1 + p2 + 0.5;
    const f = Math.floor(v);
    const frac = v - f;
    if (frac > MARGIN && frac < 1 - MARGIN) return f;
  }
  const pow = t1.pow[i];
  if (pow >= 2 && z1 < SUM_LIMIT && z1 > -SUM_LIMIT && z2 < SUM_LIMIT && z2 > -SUM_LIMIT) {
    const inv = t1.inv[i];
    const a = z1 * t1.mh[i] + z2 * t2.mh[i];
    const ah = Math.floor(a * inv);
    const bh = Math.floor((z1 * t1.ml[i] + z2 * t2.ml[i]) * INV_65536);
    return ah + Math.floor((a - ah * pow + bh + pow * 0.5) * inv);
  }
  return requantizeSum(z1, tableEntry(t1, i), z2, tableEntry(t2, i));
}
