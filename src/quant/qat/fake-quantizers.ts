/**
 * The differentiable quantizers of quantization-aware training: each forward computes the same
 * value the inference quantizer of spec.ts computes (rounding half toward +∞), each backward is the
 * method's straight-through estimator, written next to its forward as in llm.c.
 *
 *   lsq         LSQ (Esser et al. 2020): x̂ = s·clamp(⌊(x + β_pre)/s⌉, −Qn, Qp) + β_post; ∂x̂/∂x = 1 inside
 *               the clamp, ∂x̂/∂s = ⌊v⌉ − v inside and −Qn or Qp outside, times the gradient scale
 *               1/√(Qp · elements per step). One step per tensor, or per token (OFQ); β_pre/β_post are
 *               OFQ's learned per-channel biases (absent for plain LSQ and N2UQ).
 *   threshold   N2UQ's LTQ: learned start s and interval lengths a_0…a_{L−1} (L = 2^b − 1); segment
 *               boundaries B_i = s + Σ_{j<i} a_j, forward thresholds at the segment midpoints
 *               T_i = B_i + a_i/2, output offset + step·#{ i : x > T_i }. Backward: the G-STE ramp
 *               ỹ = step·(i + (x − B_i)/a_i) + offset in segment i (constant outside [B_0, B_L]);
 *               ∂/∂step uses the forward code (the paper's ∂y/∂β2 = δ·k).
 *   weights     StatsQ (OFQ) and N2UQ's entropy-preserving quantizer share one forward (odd levels
 *               (2r + 1)·mean|W_o|/2^(b−1)); StatsQ's STE is the identity, N2UQ's is zero outside its
 *               clip. LSQ weights: per-output-channel learned steps.
 *
 * Activation arrays are x [rows, cols], column = channel, row r is token r % tokens — the convention
 * of src/quant/quantizers.ts.
 */

/** Smallest step an LSQ quantizer may learn (OFQ's floor). */
export const MIN_STEP = 1e-5;

/** ⌊v + ½⌋: half toward +∞, every quantizer's rounding. */
function roundHalfUp(v: number): number {
  return Math.floor(v + 0.5);
}

// ---------------------------------------------------------------------------------------------
// LSQ activations

export interface LsqAct {
  kind: 'lsq';
  bits: number;
  signed: boolean;
  /** [1] or [tokens]: one learned step per tensor or per token. */
  step: Float32Array;
  /** [cols] OFQ's learned biases before and after the quantizer (absent for plain LSQ). */
  preBias?: Float32Array;
  postBias?: Float32Array;
}

export function lsqLimits(bits: number, signed: boolean): { qn: number; qp: number } {
  return signed ? { qn: 2 ** (bits - 1), qp: 2 ** (bits - 1) - 1 } : { qn: 0, qp: 2 ** bits - 1 };
}

/** out [rows, cols] = fake-quant of x. */
export function lsqForward(q: LsqAct, x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  const { qn, qp } = lsqLimits(q.bits, q.signed);
  const perToken = q.step.length;
  for (let r = 0; r < rows; r++) {
    const s = Math.max(q.step[r % perToken], MIN_STEP);
    const row = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = (x[row + c] + (q.preBias ? q.preBias[c] : 0)) / s;
      const code = Math.min(qp, Math.max(-qn, roundHalfUp(v)));
      out[row + c] = s * code + (q.postBias ? q.postBias[c] : 0);
    }
  }
}

/**
 * Gradients of lsqForward: dx (overwritten) and the parameter gradients (accumulated). rowsPerImage
 * sizes LSQ's gradient scale (the rows of one image: T for tokens, H·T for attention maps, 1 for the head).
 */
export function lsqBackward(
  q: LsqAct, grad: LsqActGrad, x: Float32Array, dOut: Float32Array, dx: Float32Array, rows: number, cols: number, rowsPerImage: number,
): void {
  const { qn, qp } = lsqLimits(q.bits, q.signed);
  const perToken = q.step.length;
  // LSQ's gradient scale: 1/√(Qp · elements of one image sharing one step).
  const perImage = (rowsPerImage * cols) / perToken;
  const gScale = 1 / Math.sqrt(qp * perImage);
  const dStep = new Float64Array(perToken);
  for (let r = 0; r < rows; r++) {
    const t = r % perToken;
    const s = Math.max(q.step[t], MIN_STEP);
    const row = r * cols;
    let ds = 0;
    for (let c = 0; c < cols; c++) {
      const g = dOut[row + c];
      const v = (x[row + c] + (q.preBias ? q.preBias[c] : 0)) / s;
      if (v < -qn) {
        dx[row + c] = 0;
        ds -= g * qn;
      } else if (v > qp) {
        dx[row + c] = 0;
        ds += g * qp;
      } else {
        dx[row + c] = g;
        ds += g * (roundHalfUp(v) - v);
        if (grad.preBias) grad.preBias[c] += g;
      }
      if (grad.postBias) grad.postBias[c] += g;
    }
    dStep[t] += ds;
  }
  for (let t = 0; t < perToken; t++) grad.step[t] += dStep[t] * gScale;
}

export interface LsqActGrad {
  step: Float32Array;
  preBias?: Float32Array;
  postBias?: Float32Array;
}

// ---------------------------------------------------------------------------------------------
// N2UQ threshold activations (LTQ) with the generalized straight-through estimator

export interface ThresholdAct {
  kind: 'threshold';
  bits: number;
  /** [1] B_0, the start of the first segment. */
  start: Float32Array;
  /** [2^b − 1] segment lengths a_i (floored at minInterval in the forward). */
  intervals: Float32Array;
  /** [1] spacing of the uniform output levels (β2·δ). */
  step: Float32Array;
  /** [1] real value of output level 0. */
  offset: Float32Array;
  /** Floor of every a_i (N2UQ floors at 1e−3 of its [0, 2] range; here a fraction of the initial interval). */
  minInterval: number;
  /**
   * When set, the offset is tied to −zeroPoint·step instead of learned: on the operands of Q·Kᵀ and
   * P·V the integer engine needs an integer zero point (its row/column-sum correction is in codes).
   */
  zeroPoint?: number;
}

/** The real value of output level 0: learned, or −zeroPoint·step when tied. */
export function thresholdOffset(q: ThresholdAct): number {
  return q.zeroPoint === undefined ? q.offset[0] : -q.zeroPoint * q.step[0];
}

export interface ThresholdActGrad {
  start: Float32Array;
  intervals: Float32Array;
  step: Float32Array;
  offset: Float32Array;
}

/** Boundaries B_0 … B_L (float64) of the segments, intervals floored. */
export function segmentBoundaries(q: ThresholdAct): Float64Array {
  const levels = q.intervals.length;
  const bounds = new Float64Array(levels + 1);
  bounds[0] = q.start[0];
  for (let i = 0; i < levels; i++) bounds[i + 1] = bounds[i] + Math.max(q.intervals[i], q.minInterval);
  return bounds;
}

/** The forward thresholds T_i = B_i + a_i/2, strictly increasing, in the quantizer's input units. */
export function forwardThresholds(q: ThresholdAct): Float64Array {
  const bounds = segmentBoundaries(q);
  const thresholds = new Float64Array(q.intervals.length);
  for (let i = 0; i < thresholds.length; i++) thresholds[i] = (bounds[i] + bounds[i + 1]) / 2;
  return thresholds;
}

export function thresholdForward(q: ThresholdAct, x: Float32Array, out: Float32Array, n: number): void {
  const thresholds = forwardThresholds(q);
  const step = q.step[0];
  const offset = thresholdOffset(q);
  for (let e = 0; e < n; e++) out[e] = offset + step * countAbove(thresholds, x[e]);
}

/** G-STE: dx (overwritten) and the parameter gradients (accumulated). */
export function thresholdBackward(q: ThresholdAct, grad: ThresholdActGrad, x: Float32Array, dOut: Float32Array, dx: Float32Array, n: number): void {
  const bounds = segmentBoundaries(q);
  const thresholds = forwardThresholds(q);
  const levels = q.intervals.length;
  const step = q.step[0];
  const a = new Float64Array(levels);
  for (let i = 0; i < levels; i++) a[i] = bounds[i + 1] - bounds[i];
  // dSegmentSlope[i]: Σ over the elements in segment i of dOut·∂ỹ/∂B_i (∂ỹ/∂B_i = −step/a_i);
  // B_i depends on the start and on every a_j with j < i, which the loop after this one adds up.
  const dSegmentSlope = new Float64Array(levels);
  const dIntervals = new Float64Array(levels);
  let dStep = 0;
  let dOffset = 0;
  for (let e = 0; e < n; e++) {
    const g = dOut[e];
    const v = x[e];
    dOffset += g;
    dStep += g * countAbove(thresholds, v);
    if (v <= bounds[0] || v > bounds[levels]) {
      dx[e] = 0;
      continue;
    }
    const i = segmentOf(bounds, v);
    const slope = step / a[i];
    dx[e] = g * slope;
    // ỹ = step·(i + (x − B_i)/a_i): ∂/∂B_i = −step/a_i, ∂/∂a_i (own length) = −step·(x − B_i)/a_i².
    dSegmentSlope[i] -= g * slope;
    dIntervals[i] -= (g * slope * (v - bounds[i])) / a[i];
  }
  // B_i = start + Σ_{j<i} a_j: a segment's ∂/∂B_i reaches start and every earlier interval.
  let later = 0;
  for (let i = levels - 1; i >= 0; i--) {
    dIntervals[i] += later;
    later += dSegmentSlope[i];
  }
  grad.start[0] += later;
  for (let i = 0; i < levels; i++) if (q.intervals[i] >= q.minInterval) grad.intervals[i] += dIntervals[i];
  if (q.zeroPoint === undefined) {
    grad.step[0] += dStep;
    grad.offset[0] += dOffset;
  } else {
    // y = step·(k − zeroPoint): the tied offset moves with the step.
    grad.step[0] += dStep - q.zeroPoint * dOffset;
  }
}

/** The surrogate ỹ whose exact derivative the G-STE backward is (for the finite-difference test). */
export function thresholdSurrogate(q: ThresholdAct, v: number): number {
  const bounds = segmentBoundaries(q);
  const levels = q.intervals.length;
  const step = q.step[0];
  const offset = thresholdOffset(q);
  if (v <= bounds[0]) return offset;
  if (v > bounds[levels]) return offset + step * levels;
  const i = segmentOf(bounds, v);
  return offset + step * (i + (v - bounds[i]) / (bounds[i + 1] - bounds[i]));
}

/** #{ i : x > thresholds[i] } (strict, as N2UQ's code), binary search. */
export function countAbove(thresholds: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = thresholds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x > thresholds[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** i with B_i < v ≤ B_{i+1}, for B_0 < v ≤ B_L. */
function segmentOf(bounds: Float64Array, v: number): number {
  let lo = 0;
  let hi = bounds.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (v > bounds[mid]) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// Weights [out, in]

/**
 * StatsQ (OFQ §6a): s_o = 2·mean|W_o|, w̃ = clamp(W/s_o, −1, 1 − ε), r = round(n·w̃ − ½) ∈ [−n, n − 1]
 * (n = 2^(b−1)), Ŵ = s_o·(r + ½)/n. Writes Ŵ and the odd codes 2r + 1 with their half step mean|W_o|/n.
 */
export function statsqForward(
  w: Float32Array, out: Float32Array, codes: Int32Array | undefined, scales: Float32Array | undefined,
  rows: number, cols: number, bits: number,
): void {
  const n = 2 ** (bits - 1);
  const eps = 1e-7;
  for (let o = 0; o < rows; o++) {
    const row = o * cols;
    const s = 2 * meanAbs(w, row, cols);
    if (scales) scales[o] = s / (2 * n);
    for (let c = 0; c < cols; c++) {
      const wt = s > 0 ? Math.min(1 - eps, Math.max(-1, w[row + c] / s)) : 0;
      const r = Math.min(n - 1, Math.max(-n, roundHalfUp(n * wt - 0.5)));
      out[row + c] = (s * (r + 0.5)) / n;
      if (codes) codes[row + c] = 2 * r + 1;
    }
  }
}

/**
 * N2UQ's entropy-preserving weight quantizer as its code writes it (§7a): σ_o = γ·mean|W_o| with
 * γ = (2^b − 1)/2^(b−1), w' = clamp(W/σ_o, −1, 1), Ŵ = σ_o·(round((w' + 1)·L/2)·2/L − 1), L = 2^b − 1.
 * The same levels as StatsQ (a test holds them equal); kept literal so that claim stays checked.
 */
export function n2uqWeightForward(w: Float32Array, out: Float32Array, rows: number, cols: number, bits: number): void {
  const levels = 2 ** bits - 1;
  const gamma = levels / 2 ** (bits - 1);
  for (let o = 0; o < rows; o++) {
    const row = o * cols;
    const sigma = gamma * meanAbs(w, row, cols);
    for (let c = 0; c < cols; c++) {
      const wp = sigma > 0 ? Math.min(1, Math.max(-1, w[row + c] / sigma)) : 0;
      out[row + c] = sigma * ((roundHalfUp(((wp + 1) * levels) / 2) * 2) / levels - 1);
    }
  }
}

/** N2UQ's STE: dW = dŴ where |W/σ_o| < 1, 0 where the clip holds W (dW overwritten). */
export function n2uqWeightBackward(w: Float32Array, dOut: Float32Array, dw: Float32Array, rows: number, cols: number, bits: number): void {
  const gamma = (2 ** bits - 1) / 2 ** (bits - 1);
  for (let o = 0; o < rows; o++) {
    const row = o * cols;
    const sigma = gamma * meanAbs(w, row, cols);
    for (let c = 0; c < cols; c++) dw[row + c] = Math.abs(w[row + c]) < sigma ? dOut[row + c] : 0;
  }
}

/**
 * CGA's confidence: the distance, in steps, of StatsQ's pre-rounding value u = n·w̃ − ½ to the nearest
 * rounding threshold that separates two codes, i.e. the half-integers −n + ½ … n − 3/2. A weight held
 * by the clip sits at u = ±(n − ½) + …, where no code change is possible, so it counts as far from
 * every threshold rather than on one.
 */
export function statsqDistanceToThreshold(w: Float32Array, distance: Float32Array, rows: number, cols: number, bits: number): void {
  const n = 2 ** (bits - 1);
  const eps = 1e-7;
  for (let o = 0; o < rows; o++) {
    const row = o * cols;
    const s = 2 * meanAbs(w, row, cols);
    for (let c = 0; c < cols; c++) {
      const wt = s > 0 ? Math.min(1 - eps, Math.max(-1, w[row + c] / s)) : 0;
      const u = n * wt - 0.5;
      const nearest = Math.min(n - 1.5, Math.max(-n + 0.5, Math.floor(u) + 0.5));
      distance[row + c] = Math.abs(u - nearest);
    }
  }
}

/** LSQ weights, one learned step per output channel, signed b-bit codes. */
export function lsqWeightForward(
  w: Float32Array, step: Float32Array, out: Float32Array, codes: Int32Array | undefined, rows: number, cols: number, bits: number,
): void {
  const { qn, qp } = lsqLimits(bits, true);
  for (let o = 0; o < rows; o++) {
    const s = Math.max(step[o], MIN_STEP);
    const row = o * cols;
    for (let c = 0; c < cols; c++) {
      const code = Math.min(qp, Math.max(-qn, roundHalfUp(w[row + c] / s)));
      out[row + c] = s * code;
      if (codes) codes[row + c] = code;
    }
  }
}

/** LSQ weight gradients: dW (overwritten, zero outside the clamp) and dStep (accumulated). */
export function lsqWeightBackward(
  w: Float32Array, step: Float32Array, dOut: Float32Array, dw: Float32Array, dStep: Float32Array, rows: number, cols: number, bits: number,
): void {
  const { qn, qp } = lsqLimits(bits, true);
  const gScale = 1 / Math.sqrt(qp * cols);
  for (let o = 0; o < rows; o++) {
    const s = Math.max(step[o], MIN_STEP);
    const row = o * cols;
    let ds = 0;
    for (let c = 0; c < cols; c++) {
      const g = dOut[row + c];
      const v = w[row + c] / s;
      if (v < -qn) {
        dw[row + c] = 0;
        ds -= g * qn;
      } else if (v > qp) {
        dw[row + c] = 0;
        ds += g * qp;
      } else {
        dw[row + c] = g;
        ds += g * (roundHalfUp(v) - v);
      }
    }
    dStep[o] += ds * gScale;
  }
}

function meanAbs(w: Float32Array, from: number, length: number): number {
  let sum = 0;
  for (let c = 0; c < length; c++) sum += Math.abs(w[from + c]);
  return sum / length;
}
