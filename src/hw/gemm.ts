/**
 * The workload unit of the hardware model: one matrix multiply. Every ViT layer the accelerator
 * runs (patch embedding, qkv, attention scores, attention·V, projection, MLP) is one or more of these.
 */
import { fieldError } from '../config/errors.js';

/** One matrix multiply as the accelerator sees it: out[M,N] = in[M,K] · w[K,N]. */
export interface Gemm {
  m: number;
  k: number;
  n: number;
}

/**
 * Throws a UserError unless m, k and n are positive integers (and safe ones: the cycle model
 * multiplies them together and must not lose precision). `where` names the file, row or flag the
 * GEMM came from, so the message can say `topo.csv: row 3.K must be a positive integer, got 0`.
 */
export function checkGemm(gemm: Gemm, where: string): Gemm {
  for (const field of ['m', 'k', 'n'] as const) {
    const value = gemm[field];
    if (!isPositiveInteger(value)) throw fieldError(where, field.toUpperCase(), 'a positive integer', value);
  }
  return gemm;
}

/** Multiply-accumulates the GEMM needs: M·K·N. */
export function gemmMacs(gemm: Gemm): number {
  return gemm.m * gemm.k * gemm.n;
}

/** True for 1, 2, 3, … up to 2^53 − 1. */
export function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
