/**
 * The array's accumulator: every GEMM of the integer datapath runs through `accumulate`, which adds
 * the bias (preloaded into the accumulator, as an output-stationary PE does) and then holds the
 * result to the accumulator width. A result outside [−2^(bits−1), 2^(bits−1) − 1] saturates and is
 * counted, or throws in 'error' mode — it never wraps, because a wrapped accumulator turns a large
 * positive activation into a large negative one and the error would be invisible downstream.
 *
 * The sum is exact whatever its size: when k·max|a|·max|b| could reach 2^53 (where a float64 stops
 * holding every integer), k is cut into blocks whose sums stay below it, each block goes through
 * intGemm, and the blocks are added in BigInt before saturation (`accumulateWide` returns the raw
 * sums for widths past 53 bits). No ViT shape comes near this; it keeps the model honest for any.
 */
import { intGemm, type IntGemmShape } from '../kernels/int-gemm.js';

export type OverflowMode = 'saturate' | 'error';

export interface Accumulator {
  /** Accumulator width in bits (2…53 here; float64 holds every such value exactly). */
  bits: number;
  overflow: OverflowMode;
}

/** Default width: a 32-bit accumulator, as the trace's DEFAULT_ACC_BITS. */
export const DEFAULT_ACC_BITS = 32;

/** Widest accumulator whose saturated values a float64 still holds exactly. */
export const MAX_ACC_BITS = 53;

/** A result the accumulator could not hold, in 'error' mode. */
export class AccumulatorOverflow extends Error {
  constructor(readonly where: string, readonly value: number | bigint, readonly bits: number) {
    super(`${where}: accumulator result ${value} does not fit ${bits} bits`);
    this.name = 'AccumulatorOverflow';
  }
}

/** Counts saturations while one forward runs; per GEMM name, for the report. */
export class OverflowCounter {
  total = 0;
  readonly perOp = new Map<string, number>();

  add(where: string, count: number): void {
    if (count === 0) return;
    this.total += count;
    this.perOp.set(where, (this.perOp.get(where) ?? 0) + count);
  }
}

/**
 * c[m,n] = clamp(Σ_k op(a)·op(b) + bias), exact. `bias` is [n] (per output column) or [rows·n]
 * (per token and column, when the bias carries the position embedding or a per-token scale);
 * `biasRows` says how many rows it holds (1 or a period that repeats down c).
 */
export function accumulate(
  a: Int16Array, b: Int16Array, c: Float64Array, shape: IntGemmShape, acc: Accumulator, counter: OverflowCounter, where: string,
  bias?: Float64Array, biasRows = 1,
): void {
  const { m, k, n } = shape;
  // Operands are 16-bit, so every product is at most 2^30: below this k no sum can reach 2^53.
  const bound = k * 2 ** 30 + (bias ? maxAbs(bias, bias.length) : 0);
  if (bound < 2 ** 53) {
    intGemm(a, b, c, shape);
    if (bias) addBias(c, bias, m, n, biasRows);
  } else {
    const wide = accumulateWide(a, b, shape);
    const lo = -(2n ** BigInt(acc.bits - 1));
    const hi = 2n ** BigInt(acc.bits - 1) - 1n;
    for (let i = 0; i < m * n; i++) {
      let v = wide[i];
      if (bias) v += BigInt(bias[((Math.floor(i / n) % biasRows) * n) + (i % n)]);
      if (v < lo || v > hi) {
        if (acc.overflow === 'error') throw new AccumulatorOverflow(where, v, acc.bits);
        counter.add(where, 1);
        v = v < lo ? lo : hi;
      }
      c[i] = Number(v);
    }
    return;
  }
  saturate(c, m * n, acc, counter, where);
}

/** Holds c[0..count) to the accumulator width; returns how many values saturated. */
export function saturate(c: Float64Array, count: number, acc: Accumulator, counter: OverflowCounter, where: string): number {
  const hi = 2 ** (acc.bits - 1) - 1;
  const lo = -(2 ** (acc.bits - 1));
  let over = 0;
  for (let i = 0; i < count; i++) {
    const v = c[i];
    if (v > hi || v < lo) {
      if (acc.overflow === 'error') throw new AccumulatorOverflow(where, v, acc.bits);
      c[i] = v > hi ? hi : lo;
      over++;
    }
  }
  counter.add(where, over);
  return over;
}

/**
 * The exact sums Σ_k op(a)·op(b) as BigInts, whatever k: blocks of k short enough that each block's
 * sum is an exact float64 go through intGemm, and the blocks are added in BigInt.
 */
export function accumulateWide(a: Int16Array, b: Int16Array, shape: IntGemmShape): bigint[] {
  const { m, k, n, transA = false, transB = false } = shape;
  const product = Math.max(1, maxAbs16(a, m * k) * maxAbs16(b, k * n));
  const block = Math.max(1, Math.floor((2 ** 53 - 1) / product));
  // Plain bigints, not a BigInt64Array: the point is that nothing wraps, not even at 2^63.
  const out: bigint[] = new Array<bigint>(m * n).fill(0n);
  const blockC = new Float64Array(m * n);
  for (let k0 = 0; k0 < k; k0 += block) {
    const kb = Math.min(block, k - k0);
    const ab = new Int16Array(m * kb);
    const bb = new Int16Array(kb * n);
    for (let i = 0; i < m; i++) for (let p = 0; p < kb; p++) ab[i * kb + p] = transA ? a[(k0 + p) * m + i] : a[i * k + k0 + p];
    for (let p = 0; p < kb; p++) for (let j = 0; j < n; j++) bb[p * n + j] = transB ? b[j * k + k0 + p] : b[(k0 + p) * n + j];
    intGemm(ab, bb, blockC, { m, k: kb, n });
    for (let i = 0; i < m * n; i++) out[i] += BigInt(blockC[i]);
  }
  return out;
}

function addBias(c: Float64Array, bias: Float64Array, m: number, n: number, biasRows: number): void {
  for (let i = 0; i < m; i++) {
    const src = (i % biasRows) * n;
    const row = i * n;
    for (let j = 0; j < n; j++) c[row + j] += bias[src + j];
  }
}

function maxAbs(x: Float64Array, count: number): number {
  let max = 0;
  for (let i = 0; i < count; i++) {
    const v = Math.abs(x[i]);
    if (v > max) max = v;
  }
  return max;
}

function maxAbs16(x: Int16Array, count: number): number {
  let max = 0;
  for (let i = 0; i < count; i++) {
    const v = Math.abs(x[i]);
    if (v > max) max = v;
  }
  return max;
}
