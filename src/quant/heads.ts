/**
 * Per-head views of the attention operands in float, shared by the fake-quant engine and QAT. The
 * operands are [B·T, width] arrays, image b owning rows b·T…(b+1)·T and head h a band of columns;
 * the score products run per (image, head) into scores[(b·H + h)·T·T …], before softmax:
 *
 *   standard  S = Q̂_{b,h}·K̂_{b,h}ᵀ·scale   Q̂, K̂ [B·T, C], head h = columns h·d…(h+1)·d
 *   QKR       S = X̂_b·Û_{b,h}ᵀ·scale        X̂ [B·T, C] read whole by every head, Û [B·T, H·C] in bands of C
 *
 * (spec.ts: the two attention forms.)
 */
import { gemm } from '../model/layers/matmul.js';

export interface ScoreShape {
  batch: number;
  tokens: number;
  heads: number;
  /** The products' reduction length: the head dimension d, or C for QKR. */
  k: number;
  /** QKR: every head reads the whole A row instead of its own band. */
  sharedA: boolean;
}

/** A's and B's per-head products, scaled, into scores (overwritten). */
export function attentionScores(a: Float32Array, b: Float32Array, scores: Float32Array, s: ScoreShape, scale: number): void {
  const { batch, tokens: t, heads, k } = s;
  const ah = new Float32Array(t * k);
  const bh = new Float32Array(t * k);
  for (let img = 0; img < batch; img++) {
    if (s.sharedA) ah.set(a.subarray(img * t * k, (img + 1) * t * k));
    for (let h = 0; h < heads; h++) {
      if (!s.sharedA) gatherHead(a, ah, img, h, t, heads * k, k);
      gatherHead(b, bh, img, h, t, heads * k, k);
      const out = scores.subarray((img * heads + h) * t * t, (img * heads + h + 1) * t * t);
      gemm(ah, bh, out, { m: t, k, n: t, transB: true });
      for (let j = 0; j < t * t; j++) out[j] *= scale;
    }
  }
}

/** Image b's rows of x [B·T, width], columns h·cols…(h+1)·cols → dst [T, cols]. */
export function gatherHead(x: Float32Array, dst: Float32Array, b: number, h: number, t: number, width: number, cols: number): void {
  for (let r = 0; r < t; r++) {
    const src = (b * t + r) * width + h * cols;
    dst.set(x.subarray(src, src + cols), r * cols);
  }
}

/** src [T, cols] → image b's rows of out [B·T, width], columns h·cols…(h+1)·cols. */
export function scatterHead(src: Float32Array, out: Float32Array, b: number, h: number, t: number, width: number, cols: number): void {
  for (let r = 0; r < t; r++) out.set(src.subarray(r * cols, (r + 1) * cols), (b * t + r) * width + h * cols);
}
