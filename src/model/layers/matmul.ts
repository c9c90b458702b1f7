/**
 * The one GEMM every model layer calls (the WebAssembly SIMD kernel, bit-identical to
 * src/kernels/gemm-reference.ts), so a different kernel drops in by changing this line.
 * Semantics: c[m,n] (+)= Σ_k op(a)[m,k] · op(b)[k,n], row-major.
 */
export { gemm, type GemmShape } from '../../kernels/gemm.js';
