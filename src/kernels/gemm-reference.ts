/**
 * The plain float GEMM every fast kernel is tested against: one obvious loop, row-major operands.
 *
 *   c[m,n] (+)= Σ_k op(a)[m,k] · op(b)[k,n]      op(x) = x or xᵀ
 *
 * Each product and each partial sum is rounded to float32 in k order, which is exactly what a
 * float32 SIMD kernel without fused multiply-add computes when every lane owns one output and
 * walks k in order — so the fast kernel can be checked bit for bit, not within a tolerance.
 */

export interface GemmShape {
  m: number;
  k: number;
  n: number;
  /** a is stored as [K,M] and used transposed (backward: dW = xᵀ·dy). */
  transA?: boolean;
  /** b is stored as [N,K] and used transposed (PyTorch [out,in] weights: y = x·Wᵀ). */
  transB?: boolean;
  /** add into c instead of overwriting it (gradient accumulation). */
  accumulate?: boolean;
}

export function gemmReference(a: Float32Array, b: Float32Array, c: Float32Array, shape: GemmShape): void {
  const { m, k, n, transA = false, transB = false, accumulate = false } = shape;
  const f = Math.fround;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = accumulate ? c[i * n + j] : 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * m + i] : a[i * k + p];
        const bv = transB ? b[j * k + p] : b[p * n + j];
        acc = f(acc + f(av * bv));
      }
      c[i * n + j] = acc;
    }
  }
}
