/**
 * The core of timm's `Attention` between attn.qkv and attn.proj:
 *
 *   qkv [B, T, 3D] viewed as [B, T, 3, H, d] → permute(2, 0, 3, 1, 4) → q, k, v each [B, H, T, d]
 *   out = softmax(q·d^-0.5 · kᵀ) · v            [B, H, T, d]
 *   out.transpose(1, 2).reshape(B, T, D)        head h owns output columns h·d … h·d+d−1
 *
 * So in a qkv row the first D values are q (head 0's d, then head 1's, …), the next D are k, the
 * last D are v. As in timm, q is scaled before the product (the same to float32 rounding as scaling
 * the scores). Products run per (image, head) through the shared GEMM on contiguous copies, made
 * for all heads of an image in one pass over its rows.
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
  const w = workspace(shape);
  for (let b = 0; b < batch; b++) {
    splitHeads(qkv, b, w, shape, scale);
    for (let h = 0; h < heads; h++) {
      const p = probs.subarray((b * heads + h) * t * t, (b * heads + h + 1) * t * t);
      gemm(w.q[h], w.k[h], p, { m: t, k: d, n: t, transB: true });
      softmaxRows(p, t, t);
      gemm(p, w.v[h], w.o[h], { m: t, k: t, n: d });
    }
    mergeHeads(w.o, out, b, shape, heads * d, 0, 1);
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
  const w = workspace(shape);
  for (let b = 0; b < batch; b++) {
    splitHeads(qkv, b, w, shape, scale);
    splitOutput(dOut, w.dO, b, shape);
    for (let h = 0; h < heads; h++) {
      const p = probs.subarray((b * heads + h) * t * t, (b * heads + h + 1) * t * t);
      gemm(p, w.dO[h], w.dV[h], { m: t, k: t, n: d, transA: true });
      gemm(w.dO[h], w.v[h], w.dS, { m: t, k: d, n: t, transB: true });
      softmaxBackwardRows(p, w.dS, t, t);
      gemm(w.dS, w.k[h], w.dQ[h], { m: t, k: t, n: d });
      gemm(w.dS, w.q[h], w.dK[h], { m: t, k: t, n: d, transA: true });
    }
    // dQ = s·(dS·K): the scale is applied (and rounded) after the product, as the one-head loop did.
    mergeHeads(w.dQ, dQkv, b, shape, 3 * heads * d, 0, scale);
    mergeHeads(w.dK, dQkv, b, shape, 3 * heads * d, heads * d, 1);
    mergeHeads(w.dV, dQkv, b, shape, 3 * heads * d, 2 * heads * d, 1);
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

/**
 * Per-image scratch, one [T, d] matrix per head for each operand, reused across calls of the same
 * shape: fresh buffers per (image, head) cost more in allocation and GC than the copies themselves.
 */
interface Workspace {
  key: string;
  q: Float32Array[]; k: Float32Array[]; v: Float32Array[]; o: Float32Array[];
  dO: Float32Array[]; dQ: Float32Array[]; dK: Float32Array[]; dV: Float32Array[];
  /** [T, T] score gradient of the head in hand. */
  dS: Float32Array;
}

let cached: Workspace | undefined;

function workspace({ tokens: t, heads, headDim: d }: AttentionShape): Workspace {
  const key = `${t},${heads},${d}`;
  if (cached?.key === key) return cached;
  const perHead = (): Float32Array[] => {
    const all = new Float32Array(heads * t * d);
    return Array.from({ length: heads }, (_, h) => all.subarray(h * t * d, (h + 1) * t * d));
  };
  cached = {
    key, q: perHead(), k: perHead(), v: perHead(), o: perHead(), dO: perHead(), dQ: perHead(), dK: perHead(), dV: perHead(),
    dS: new Float32Array(t * t),
  };
  return cached;
}

/** Image b's rows of qkv [B, T, 3, H, d] → w.q (times scale), w.k, w.v, each [H][T, d]: one pass over contiguous rows. */
function splitHeads(qkv: Float32Array, b: number, w: Workspace, shape: AttentionShape, scale: number): void {
  const { tokens: t, heads, headDim: d } = shape;
  const width = 3 * heads * d;
  for (let i = 0; i < t; i++) {
    const row = (b * t + i) * width;
    for (let h = 0; h < heads; h++) {
      const q = w.q[h], k = w.k[h], v = w.v[h];
      const src = row + h * d;
      const dst = i * d;
      for (let j = 0; j < d; j++) q[dst + j] = qkv[src + j] * scale;
      for (let j = 0; j < d; j++) k[dst + j] = qkv[src + heads * d + j];
      for (let j = 0; j < d; j++) v[dst + j] = qkv[src + 2 * heads * d + j];
    }
  }
}

/** Image b's rows of x [B, T, H·d] → dst [H][T, d]. */
function splitOutput(x: Float32Array, dst: Float32Array[], b: number, shape: AttentionShape): void {
  const { tokens: t, heads, headDim: d } = shape;
  const width = heads * d;
  for (let i = 0; i < t; i++) {
    for (let h = 0; h < heads; h++) {
      const out = dst[h];
      const src = (b * t + i) * width + h * d;
      for (let j = 0; j < d; j++) out[i * d + j] = x[src + j];
    }
  }
}

/**
 * src [H][T, d] → image b's rows of out [B, T, width], head h into columns offset + h·d …, times
 * factor (1 copies exactly).
 */
function mergeHeads(
  src: Float32Array[], out: Float32Array, b: number, shape: AttentionShape, width: number, offset: number, factor: number,
): void {
  const { tokens: t, heads, headDim: d } = shape;
  for (let i = 0; i < t; i++) {
    for (let h = 0; h < heads; h++) {
      const part = src[h];
      const dst = (b * t + i) * width + offset + h * d;
      for (let j = 0; j < d; j++) out[dst + j] = part[i * d + j] * factor;
    }
  }
}
