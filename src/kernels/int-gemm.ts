/**
 * The exact integer GEMM the integer engine calls: same result as intGemmReference, bit for bit.
 *
 *   c[m,n] = Σ_k op(a)[m,k] · op(b)[k,n]      row-major; transA: a is [K,M]; transB: b is [N,K]
 *
 * Operands are integers of at most 16 bits; c is float64 holding exact integers.
 * (First version: the reference loop; the WebAssembly kernel follows.)
 */
import { intGemmReference, type IntGemmShape } from './int-gemm-reference.js';

export type { IntGemmShape } from './int-gemm-reference.js';
export { intGemmReference } from './int-gemm-reference.js';

export function intGemm(a: Int16Array, b: Int16Array, c: Float64Array, shape: IntGemmShape): void {
  checkShape(a, b, c, shape);
  intGemmReference(a, b, c, shape);
}

function checkShape(a: Int16Array, b: Int16Array, c: Float64Array, { m, k, n }: IntGemmShape): void {
  if (!isCount(m) || !isCount(k) || !isCount(n)) {
    throw new RangeError(`intGemm: m, k and n must be non-negative integers, got m=${m} k=${k} n=${n}`);
  }
  if (a.length < m * k) throw new RangeError(`intGemm: a holds ${a.length} values, needs m·k = ${m * k}`);
  if (b.length < k * n) throw new RangeError(`intGemm: b holds ${b.length} values, needs k·n = ${k * n}`);
  if (c.length < m * n) throw new RangeError(`intGemm: c holds ${c.length} values, needs m·n = ${m * n}`);
}

function isCount(x: number): boolean {
  return Number.isInteger(x) && x >= 0;
}
