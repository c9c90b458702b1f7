/**
 * The one GEMM every model layer calls, so the fast kernel drops in by changing this line.
 * Semantics (src/kernels/gemm-reference.ts): c[m,n] (+)= Σ_k op(a)[m,k] · op(b)[k,n], row-major.
 */
export { gemmReference as gemm } from '../../kernels/gemm-reference.js';
export type { GemmShape } from '../../kernels/gemm-reference.js';
