/**
 * The core of timm's `Attention` between attn.qkv and attn.proj:
 *
 *   qkv [B, T, 3D] viewed as [B, T, 3, H, d] → permute(2, 0, 3, 1, 4) → q, k, v each [B, H, T, d]
 *   out = softmax(q·d^-0.5 · kᵀ) · v            [B, H, T, d]
 *   out.transpose(1, 2).reshape(B, T, D)        head h owns output columns h·d … h·d+d−1
 *
 * So in a qkv row the first D values are q (head 0's d, then head 1's, …), the next D are k, the
 * last D are v. As in timm, q is scaled before the product (the same to float32 rounding as scaling
 * the scores). Products run per (image, head) through the shared GEMM on contiguous copies.
 */
import { gemm } from './matmul.js';

export interface AttentionShape {
  batch: number;
  tokens: number;
  heads: number;
  headDim: number;
}

/** qkv [B·T, 3D] → out [B·T, D] (overwritten) and probs [B, H, T, T] (the softmax, kept for backward). */
export function attentionForward(qkv: Float32Array, out: Float32Array, probs: Float32Array, shape: AttentionShape): void {
  const { batch, tokens: t, heads, headDim: d } = shape;
  const scale = 1 / Math.sqrt(d);
  const q = new Float32Array(t * d);
  const k = new Float32Array(t * d);
  const v = new Float32Array(t * d);
  const o = new Float32Array(t * d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      gatherHead(qkv, q, b, 0, h, shape, scale);
      gatherHead(qkv, k, b, 1, h, shape, 1);
      gatherHead(qkv, v, b, 2, h, shape, 1);
      const p = probs.subarray((b * heads + h) * t * t, (b * heads + h + 1) * t * t);
      gemm(q, k, p, { m: t, k: d, n: t, transB: true });
      softmaxRows(p, t, t);
      gemm(p, v, o, { m: t, k: t, n: d });
      scatterHead(o, out, b, h, shape);
    }
  }
}

/**
 * Given dOut [B·T, D]: dQkv [B·T, 3D] (overwritten). Per head, with P the kept softmax and s = d^-0.5:
 *   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = s·dS·K,  dK = dSᵀ·(s·Q).
 */
export function attentionBackward(
  qkv: Float32Array, probs: Float32Array, dOut: Float32Array, dQkv: Float32Array, shape: AttentionShape,
): void {
  const { batch, tokens: t, heads, headDim: d } = shape;
  const scale = 1 / Math.sqrt(d);
  const q = new Float32Array(t * d);
  const k = new Float32Array(t * d);
  const v = new Float32Array(t * d);
  const dO = new Float32Array(t * d);
  const dQ = new Float32Array(t * d);
  const dK = new Float32Array(t * d);
  const dV = new Float32Array(t * d);
  const dS = new Float32Array(t * t);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      gatherHead(qkv, q, b, 0, h, shape, scale);
      gatherHead(qkv, k, b, 1, h, shape, 1);
      gatherHead(qkv, v, b, 2, h, shape, 1);
      gatherOutput(dOut, dO, b, h, shape);
      const p = probs.subarray((b * heads + h) * t * t, (b * heads + h + 1) * t * t);
      gemm(p, dO, dV, { m: t, k: t, n: d, transA: true });
      gemm(dO, v, dS, { m: t, k: d, n: t, transB: true });
      softmaxBackwardRows(p, dS, t, t);
      gemm(dS, k, dQ, { m: t, k: t, n: d });
      for (let i = 0; i < t * d; i++) dQ[i] *= scale;
      gemm(dS, q, dK, { m: t, k: t, n: d, transA: true });
      scatterQkv(dQ, dQkv, b, 0, h, shape);
      scatterQkv(dK, dQkv, b, 1, h, shape);
      scatterQkv(dV, dQkv, b, 2, h, shape);
    }
  }
}

/** Row-wise softmax in place, x [rows, cols]; max subtracted first, sums in float64. */
export function softmaxRows(x: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[row + j] > max) max = x[row + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[row + j] - max);
      x[row + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < cols; j++) x[row + j] *= inv;
  }
}

/** Through a row-wise softmax p: dx = p ⊙ (dp − Σ_j dp·p), in place on dp. */
export function softmaxBackwardRows(p: Float32Array, dp: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dp[row + j] * p[row + j];
    for (let j = 0; j < cols; j++) dp[row + j] = p[row + j] * (dp[row + j] - dot);
  }
}

/** part 0/1/2 = q/k/v of head h of image b, from qkv [B, T, 3, H, d] into dst [T, d], times factor. */
function gatherHead(qkv: Float32Array, dst: Float32Array, b: number, part: number, h: number, shape: AttentionShape, factor: number): void {
  const { tokens: t, heads, headDim: d } = shape;
  const width = 3 * heads * d;
  for (let i = 0; i < t; i++) {
    const src = (b * t + i) * width + (part * heads + h) * d;
    for (let j = 0; j < d; j++) dst[i * d + j] = qkv[src + j] * factor;
  }
}

function scatterQkv(src: Float32Array, dQkv: Float32Array, b: number, part: number, h: number, shape: AttentionShape): void {
  const { tokens: t, heads, headDim: d } = shape;
  const width = 3 * heads * d;
  for (let i = 0; i < t; i++) {
    const dst = (b * t + i) * width + (part * heads + h) * d;
    for (let j = 0; j < d; j++) dQkv[dst + j] = src[i * d + j];
  }
}

/** Head h's columns of image b in a [B, T, D] tensor into dst [T, d]. */
function gatherOutput(x: Float32Array, dst: Float32Array, b: number, h: number, shape: AttentionShape): void {
  const { tokens: t, heads, headDim: d } = shape;
  const width = heads * d;
  for (let i = 0; i < t; i++) {
    const src = (b * t + i) * width + h * d;
    for (let j = 0; j < d; j++) dst[i * d + j] = x[src + j];
  }
}

function scatterHead(src: Float32Array, out: Float32Array, b: number, h: number, shape: AttentionShape): void {
  const { tokens: t, heads, headDim: d } = shape;
  const width = heads * d;
  for (let i = 0; i < t; i++) {
    const dst = (b * t + i) * width + h * d;
    for (let j = 0; j < d; j++) out[dst + j] = src[i * d + j];
  }
}
