/**
 * OFQ's query–key reparameterisation (QKR, ../shared/QUANT-METHODS.md §6a) in training: the scores
 * of head h are X̂·W_qk,h·X̂ᵀ·d^−½ with W_qk,h = W_q,hᵀ·W_k,h, a C×C weight of its own at inference.
 * Training keeps timm's qkv weight as the parameter (OFQ's QAttention_qkreparam does the same) and
 * forms W_qk from its q and k rows at every step; StatsQ's identity STE hands dŴ_qk straight to
 * W_qk, and the product rule takes it on to the q and k rows:
 *
 *   W_qk,h[i, j] = Σ_r W_q,h[r, i] · W_k,h[r, j]     (W_q,h = qkv rows h·d…, W_k,h = rows C + h·d…)
 *   dW_q,h = W_k,h · dW_qk,hᵀ        dW_k,h = W_q,h · dW_qk,h
 *
 * The heads' W_qk,h are stacked into one [H·C, C] weight, so U = X̂·W_qkᵀ is an ordinary linear layer
 * whose columns h·C…(h+1)·C hold U_hᵀ, and head h's scores are X̂·Û_hᵀ — a product shaped like Q·Kᵀ
 * with every head reading the whole X̂ and reducing over C instead of d (heads.ts computes it).
 */
import { gemm } from '../../model/layers/matmul.js';
import { gatherHead, scatterHead } from '../heads.js';

/** The sizes of one block's attention: C channels, H heads of d = C/H. */
export interface QkrShape {
  c: number;
  heads: number;
  d: number;
}

/** qkv weight [3C, C] → W_qk [H·C, C], head h's C×C block at rows h·C…(h+1)·C. */
export function qkrWeight(qkv: Float32Array, s: QkrShape): Float32Array {
  const { c, heads, d } = s;
  const out = new Float32Array(heads * c * c);
  for (let h = 0; h < heads; h++) {
    // W_qk,h = W_q,hᵀ · W_k,h: [C, d] · [d, C].
    const wq = qkv.subarray(h * d * c, (h + 1) * d * c);
    const wk = qkv.subarray((c + h * d) * c, (c + (h + 1) * d) * c);
    gemm(wq, wk, out.subarray(h * c * c, (h + 1) * c * c), { m: c, k: d, n: c, transA: true });
  }
  return out;
}

/** Adds the q and k rows' share of dW_qk [H·C, C] into dQkv [3C, C]. */
export function qkrWeightBackward(qkv: Float32Array, dWqk: Float32Array, dQkv: Float32Array, s: QkrShape): void {
  const { c, heads, d } = s;
  for (let h = 0; h < heads; h++) {
    const g = dWqk.subarray(h * c * c, (h + 1) * c * c);
    const qRows = [h * d * c, (h + 1) * d * c] as const;
    const kRows = [(c + h * d) * c, (c + (h + 1) * d) * c] as const;
    // dW_q,h [d, C] += W_k,h [d, C] · gᵀ;  dW_k,h [d, C] += W_q,h [d, C] · g.
    gemm(qkv.subarray(...kRows), g, dQkv.subarray(...qRows), { m: d, k: c, n: c, transB: true, accumulate: true });
    gemm(qkv.subarray(...qRows), g, dQkv.subarray(...kRows), { m: d, k: c, n: c, accumulate: true });
  }
}

/**
 * Given dS per (image, head) (through softmax and the scale already), the gradients of the two
 * operands: dX̂ [B·T, C] += Σ_h dS·Û_h (every head read the whole X̂), dÛ [B·T, H·C] = dSᵀ·X̂ per head.
 */
export function qkrScoresBackward(
  dScores: Float32Array, xq: Float32Array, uq: Float32Array, dx: Float32Array, du: Float32Array, batch: number, t: number, s: QkrShape,
): void {
  const { c, heads } = s;
  const uh = new Float32Array(t * c);
  const duh = new Float32Array(t * c);
  for (let b = 0; b < batch; b++) {
    const xb = xq.subarray(b * t * c, (b + 1) * t * c);
    const dxb = dx.subarray(b * t * c, (b + 1) * t * c);
    for (let h = 0; h < heads; h++) {
      const dS = dScores.subarray((b * heads + h) * t * t, (b * heads + h + 1) * t * t);
      gatherHead(uq, uh, b, h, t, heads * c, c);
      gemm(dS, uh, dxb, { m: t, k: t, n: c, accumulate: true });
      gemm(dS, xb, duh, { m: t, k: t, n: c, transA: true });
      scatterHead(duh, du, b, h, t, heads * c, c);
    }
  }
}
