/**
 * The plain integer GEMM every fast integer kernel is tested against: one obvious loop, row-major
 * operands, exact.
 *
 *   c[m,n] = Σ_k op(a)[m,k] · op(b)[k,n]      op(x) = x or xᵀ; operands are 16-bit integers
 *
 * Each product is at most 2^30 in magnitude, so a float64 running sum is exact while the row's
 * bound k·max|a|·max|b| stays below 2^53 (every partial sum, not just the last, is then an exact
 * integer). Past that bound the sum is taken in BigInt and rounded once, to nearest, when stored:
 * c is float64, so that rounding is the best any kernel can return, and it does not depend on the
 * order of the additions.
 */

export interface IntGemmShape {
  m: number;
  k: number;
  n: number;
  /** a is stored as [K,M] and used transposed. */
  transA?: boolean;
  /** b is stored as [N,K] and used transposed (PyTorch [out,in] weights: y = x·Wᵀ). */
  transB?: boolean;
}

/** Largest integer below which every float64 integer is exact. */
export const EXACT_LIMIT = 2 ** 53;

export function intGemmReference(a: Int16Array, b: Int16Array, c: Float64Array, shape: IntGemmShape): void {
  const { m, k, n, transA = false, transB = false } = shape;
  const aRow = transA ? 1 : k, aCol = transA ? m : 1;
  const bRow = transB ? 1 : n, bCol = transB ? k : 1;
  if (k * maxMagnitude(a, m * k) * maxMagnitude(b, k * n) < EXACT_LIMIT) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += a[i * aRow + p * aCol] * b[p * bRow + j * bCol];
        c[i * n + j] = acc;
      }
    }
    return;
  }
  intGemmBigInt(a, b, c, shape);
}

/**
 * The same product summed in BigInt: exact whatever k, rounded to the nearest float64 once at the
 * end. Used when k·max|a|·max|b| ≥ 2^53 (k beyond 2^23 with full 16-bit operands); slow, and no
 * shape of a ViT gets near it.
 */
export function intGemmBigInt(a: Int16Array, b: Int16Array, c: Float64Array, shape: IntGemmShape): void {
  const { m, k, n, transA = false, transB = false } = shape;
  const aRow = transA ? 1 : k, aCol = transA ? m : 1;
  const bRow = transB ? 1 : n, bCol = transB ? k : 1;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0n;
      for (let p = 0; p < k; p++) acc += BigInt(a[i * aRow + p * aCol] * b[p * bRow + j * bCol]);
      c[i * n + j] = Number(acc);
    }
  }
}

/** max |x[i]| over the first `length` elements (0 when empty). */
export function maxMagnitude(x: Int16Array, length: number): number {
  let lo = 0, hi = 0;
  for (let i = 0; i < length; i++) {
    const v = x[i];
    if (v < lo) lo = v;
    else if (v > hi) hi = v;
  }
  return Math.max(-lo, hi);
}
