/**
 * The float-domain meaning of every quantizer of spec.ts: value → integer code → real value, one
 * element at a time and over [rows, cols] activation arrays, plus the weight quantizer and the
 * scale-choice rules (min-max, percentile, grid search) that every method builds on.
 *
 * Codes as the datapath carries them (b = bits):
 *   uniform       signed [−2^(b−1), 2^(b−1)−1] or unsigned [0, 2^b−1];  x̂ = scale[t]·(code − zeroPoint)
 *   twin-softmax  unsigned b-bit: flag·2^(b−1) + magnitude, magnitude ∈ [0, 2^(b−1)−1]; flag 1 = the
 *                 large step 1/(2^(b−1)−1) (x > 2^−i), flag 0 = the small step 2^−i/(2^(b−1)−1)
 *                 (PTQ4ViT's export layout: MSB set ⇒ large step)
 *   twin-gelu     signed b-bit; the sign bit is the range flag: code < 0 → x̂ = code·negScale,
 *                 code ≥ 0 → x̂ = code·negScale·2^posShift
 *   threshold     unsigned [0, 2^b−1] = #{ i : x > thresholds[i] };  x̂ = offset + step·code
 * Every kind first adds its addend's preAdd[c] to the element of channel (column) c; postAdd is never
 * applied here — it is folded into the consuming linear layer's bias (spec.ts).
 *
 * Rounding is half toward +∞, Math.floor(v + 0.5), the rule of an add-half-then-shift requantizer.
 */
import type { ActQuant, UniformQuant, WeightQuant } from './spec.js';

/** Smallest and largest code of a b-bit signed or unsigned integer. */
export function codeRange(bits: number, signed: boolean): { lo: number; hi: number } {
  return signed ? { lo: -(2 ** (bits - 1)), hi: 2 ** (bits - 1) - 1 } : { lo: 0, hi: 2 ** bits - 1 };
}

/** The range of codes a quantizer can emit (twin-softmax and threshold codes are unsigned, twin-gelu signed). */
export function actCodeRange(q: ActQuant): { lo: number; hi: number } {
  switch (q.kind) {
    case 'uniform':
      return codeRange(q.bits, q.signed);
    case 'twin-gelu':
      return codeRange(q.bits, true);
    default:
      return codeRange(q.bits, false);
  }
}

export function roundHalfUp(v: number): number {
  return Math.floor(v + 0.5);
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

// ---------------------------------------------------------------------------------------------
// Element-wise: one value of channel c, token t.

/** The code of x (channel c, token t) under q, preAdd included. */
export function quantizeValue(q: ActQuant, x: number, c = 0, t = 0): number {
  const addend = q.kind === 'twin-softmax' ? undefined : q.addend;
  const v = addend ? x + addend.preAdd[c] : x;
  switch (q.kind) {
    case 'uniform': {
      const { lo, hi } = codeRange(q.bits, q.signed);
      const scale = q.scale.length === 1 ? q.scale[0] : q.scale[t];
      return clamp(roundHalfUp(v / scale) + q.zeroPoint, lo, hi);
    }
    case 'twin-softmax': {
      const top = 2 ** (q.bits - 1) - 1;
      const split = 2 ** -q.splitExponent;
      if (v <= split) return clamp(roundHalfUp((v * top) / split), 0, top);
      return 2 ** (q.bits - 1) + clamp(roundHalfUp(v * top), 0, top);
    }
    case 'twin-gelu': {
      const half = 2 ** (q.bits - 1);
      if (v < 0) return clamp(roundHalfUp(v / q.negScale), -half, 0);
      return clamp(roundHalfUp(v / (q.negScale * 2 ** q.posShift)), 0, half - 1);
    }
    case 'threshold':
      return countAbove(q.thresholds, v);
  }
}

/** The real value of a code of q (token t); postAdd is not added (it lives in the next bias). */
export function dequantizeValue(q: ActQuant, code: number, t = 0): number {
  switch (q.kind) {
    case 'uniform':
      return (q.scale.length === 1 ? q.scale[0] : q.scale[t]) * (code - q.zeroPoint);
    case 'twin-softmax': {
      const half = 2 ** (q.bits - 1);
      const top = half - 1;
      return code >= half ? (code - half) / top : (code * 2 ** -q.splitExponent) / top;
    }
    case 'twin-gelu':
      return code < 0 ? code * q.negScale : code * q.negScale * 2 ** q.posShift;
    case 'threshold':
      return q.offset + q.step * code;
  }
}

/** dequantize(quantize(x)). */
export function fakeQuantValue(q: ActQuant, x: number, c = 0, t = 0): number {
  return dequantizeValue(q, quantizeValue(q, x, c, t), t);
}

/** #{ i : x > thresholds[i] } by binary search (thresholds strictly increasing). */
export function countAbove(thresholds: Float64Array, x: number): number {
  let lo = 0;
  let hi = thresholds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x > thresholds[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// Arrays: x [rows, cols], column = channel, row r is token r % tokens (tokens defaults to the
// number of per-token scales, so a per-tensor quantizer ignores it; pass 1 for class-token-only rows).

/** Codes of x [rows, cols] under q. */
export function quantizeArray(q: ActQuant, x: Float32Array, rows: number, cols: number, tokens?: number): Int32Array {
  checkArray(q, x.length, rows, cols);
  const codes = new Int32Array(rows * cols);
  const period = tokenPeriod(q, tokens);
  for (let r = 0; r < rows; r++) {
    const t = r % period;
    const row = r * cols;
    for (let c = 0; c < cols; c++) codes[row + c] = quantizeValue(q, x[row + c], c, t);
  }
  return codes;
}

/** Real values of codes [rows, cols] under q. */
export function dequantizeArray(q: ActQuant, codes: Int32Array, rows: number, cols: number, tokens?: number): Float32Array {
  checkArray(q, codes.length, rows, cols);
  const out = new Float32Array(rows * cols);
  const period = tokenPeriod(q, tokens);
  for (let r = 0; r < rows; r++) {
    const t = r % period;
    const row = r * cols;
    for (let c = 0; c < cols; c++) out[row + c] = dequantizeValue(q, codes[row + c], t);
  }
  return out;
}

/**
 * x̂ = dequantize(quantize(x)) of x [rows, cols] into out (may be x itself). The uniform per-tensor
 * case without addend, by far the most frequent in calibration loops, skips the per-element switch.
 */
export function fakeQuantArray(
  q: ActQuant, x: Float32Array, rows: number, cols: number, out: Float32Array = new Float32Array(rows * cols), tokens?: number,
): Float32Array {
  checkArray(q, x.length, rows, cols);
  const n = rows * cols;
  if (q.kind === 'uniform' && q.scale.length === 1 && !q.addend) {
    const { lo, hi } = codeRange(q.bits, q.signed);
    const scale = q.scale[0];
    const zp = q.zeroPoint;
    for (let i = 0; i < n; i++) {
      const code = Math.floor(x[i] / scale + 0.5) + zp;
      out[i] = scale * ((code < lo ? lo : code > hi ? hi : code) - zp);
    }
    return out;
  }
  const period = tokenPeriod(q, tokens);
  for (let r = 0; r < rows; r++) {
    const t = r % period;
    const row = r * cols;
    for (let c = 0; c < cols; c++) out[row + c] = fakeQuantValue(q, x[row + c], c, t);
  }
  return out;
}

function tokenPeriod(q: ActQuant, tokens: number | undefined): number {
  if (tokens !== undefined) return tokens;
  return q.kind === 'uniform' ? q.scale.length : 1;
}

function checkArray(q: ActQuant, length: number, rows: number, cols: number): void {
  if (length !== rows * cols) throw new RangeError(`quantizer array: ${length} values, expected rows·cols = ${rows}·${cols}`);
  const addend = q.kind === 'twin-softmax' ? undefined : q.addend;
  if (addend && addend.preAdd.length !== cols) throw new RangeError(`quantizer addend has ${addend.preAdd.length} channels, the array has ${cols}`);
}

// ---------------------------------------------------------------------------------------------
// Weights: [out, in] in timm layout, codes always signed b-bit (an asymmetric weight keeps a signed
// zero point, so the array multiplies b-bit signed integers either way).

export type Granularity = 'tensor' | 'channel';

/** Codes of w [out, in] under given scales (1 or out of them) and zero points (absent = symmetric). */
export function quantizeWeight(
  w: Float32Array, shape: [number, number], bits: number, scales: Float32Array, zeroPoints?: Int32Array,
): WeightQuant {
  const [outs, ins] = shape;
  if (w.length !== outs * ins) throw new RangeError(`weight: ${w.length} values, shape [${outs}, ${ins}]`);
  if (scales.length !== 1 && scales.length !== outs) throw new RangeError(`weight: ${scales.length} scales for ${outs} output channels`);
  const { lo, hi } = codeRange(bits, true);
  const codes = new Int32Array(outs * ins);
  for (let o = 0; o < outs; o++) {
    const scale = scales.length === 1 ? scales[0] : scales[o];
    const zp = zeroPoints ? (zeroPoints.length === 1 ? zeroPoints[0] : zeroPoints[o]) : 0;
    for (let i = 0; i < ins; i++) codes[o * ins + i] = clamp(roundHalfUp(w[o * ins + i] / scale) + zp, lo, hi);
  }
  const out: WeightQuant = { kind: 'uniform', bits, codes, shape: [outs, ins], scales: Float32Array.from(scales) };
  if (zeroPoints) out.zeroPoints = Int32Array.from(zeroPoints);
  return out;
}

/** ŵ [out, in] = scales[o]·(codes − zeroPoints[o]), for uniform and odd-level weights alike. */
export function dequantizeWeight(q: WeightQuant): Float32Array {
  const [outs, ins] = q.shape;
  const out = new Float32Array(outs * ins);
  for (let o = 0; o < outs; o++) {
    const scale = q.scales.length === 1 ? q.scales[0] : q.scales[o];
    const zp = q.zeroPoints ? (q.zeroPoints.length === 1 ? q.zeroPoints[0] : q.zeroPoints[o]) : 0;
    for (let i = 0; i < ins; i++) out[o * ins + i] = scale * (q.codes[o * ins + i] - zp);
  }
  return out;
}

/**
 * Min-max weight quantization: symmetric → scale max|w|/(2^(b−1)−1), zero point 0; asymmetric →
 * scale (max−min)/(2^b−1) with the zero point that maps min to −2^(b−1). Per tensor or per output channel.
 */
export function weightMinMax(
  w: Float32Array, shape: [number, number], bits: number, symmetric: boolean, granularity: Granularity,
): WeightQuant {
  const { scales, zeroPoints } = weightMinMaxScales(w, shape, bits, symmetric, granularity, 1);
  return quantizeWeight(w, shape, bits, scales, zeroPoints);
}

/** The min-max scales (each times `factor`) and zero points of weightMinMax, without the codes. */
export function weightMinMaxScales(
  w: Float32Array, shape: [number, number], bits: number, symmetric: boolean, granularity: Granularity, factor: number,
): { scales: Float32Array; zeroPoints?: Int32Array } {
  const [outs, ins] = shape;
  const groups = granularity === 'channel' ? outs : 1;
  const per = granularity === 'channel' ? ins : outs * ins;
  const scales = new Float32Array(groups);
  const zeroPoints = symmetric ? undefined : new Int32Array(groups);
  for (let g = 0; g < groups; g++) {
    const { min, max } = minMax(w.subarray(g * per, (g + 1) * per));
    if (symmetric) {
      scales[g] = positive((Math.max(-min, max) / (2 ** (bits - 1) - 1)) * factor);
    } else {
      const lo = Math.min(min, 0) * factor;
      const hi = Math.max(max, 0) * factor;
      const scale = positive((hi - lo) / (2 ** bits - 1));
      scales[g] = scale;
      (zeroPoints as Int32Array)[g] = clamp(-(2 ** (bits - 1)) - roundHalfUp(lo / scale), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1);
    }
  }
  return zeroPoints ? { scales, zeroPoints } : { scales };
}

// ---------------------------------------------------------------------------------------------
// Activation scale choice.

/** A uniform per-tensor quantizer. */
export function uniformQuant(bits: number, signed: boolean, scale: number, zeroPoint = 0): UniformQuant {
  return { kind: 'uniform', bits, signed, scale: Float32Array.of(positive(scale)), zeroPoint };
}

/**
 * The quantizer that covers [min, max]: symmetric signed → scale max|x|/(2^(b−1)−1); symmetric over
 * non-negative data with `unsignedIfNonNegative` → unsigned, scale max/(2^b−1); asymmetric → unsigned
 * codes, scale (max−min)/(2^b−1), zero point round(−min/scale).
 */
export function uniformFromRange(
  min: number, max: number, bits: number, symmetric: boolean, unsignedIfNonNegative = false,
): UniformQuant {
  if (symmetric) {
    if (unsignedIfNonNegative && min >= 0) return uniformQuant(bits, false, max / (2 ** bits - 1));
    return uniformQuant(bits, true, Math.max(-min, max) / (2 ** (bits - 1) - 1));
  }
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const scale = positive((hi - lo) / (2 ** bits - 1));
  return uniformQuant(bits, false, scale, clamp(roundHalfUp(-lo / scale), 0, 2 ** bits - 1));
}

export function minMax(x: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return x.length === 0 ? { min: 0, max: 0 } : { min, max };
}

export function maxAbs(x: ArrayLike<number>): number {
  const { min, max } = minMax(x);
  return Math.max(-min, max);
}

/**
 * The range that keeps `percentile` % of the values: symmetric → [−p, p] with p the percentile of
 * |x|; otherwise the (100 − percentile) and percentile points of x. Linear interpolation between ranks.
 */
export function percentileRange(x: Float32Array, percentile: number, symmetric: boolean): { min: number; max: number } {
  if (!(percentile > 0 && percentile <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${percentile}`);
  if (x.length === 0) return { min: 0, max: 0 };
  if (symmetric) {
    const abs = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) abs[i] = Math.abs(x[i]);
    abs.sort();
    const p = rank(abs, percentile);
    return { min: -p, max: p };
  }
  const sorted = Float32Array.from(x).sort();
  return { min: rank(sorted, 100 - percentile), max: rank(sorted, percentile) };
}

function rank(sorted: Float32Array, percentile: number): number {
  const at = ((sorted.length - 1) * percentile) / 100;
  const below = Math.floor(at);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (at - below);
}

/** PTQ4ViT's initial step for a search: Δ0 = max|x| / (2^(b−1) − 0.5) (signed) or max / (2^b − 0.5) (unsigned). */
export function initialStep(maxAbsValue: number, bits: number, signed: boolean): number {
  return positive(maxAbsValue / (signed ? 2 ** (bits - 1) - 0.5 : 2 ** bits - 0.5));
}

/** The candidate grid Δ0·(α + i·(β − α)/n), i = 0…n. */
export function stepGrid(delta0: number, alpha: number, beta: number, n: number): number[] {
  return Array.from({ length: n + 1 }, (_, i) => delta0 * (alpha + (i * (beta - alpha)) / n));
}

/** Index of the best candidate under `score` (higher is better); the first on ties. */
export function argBest(count: number, score: (i: number) => number): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let i = 0; i < count; i++) {
    const s = score(i);
    if (s > bestScore) {
      bestScore = s;
      best = i;
    }
  }
  return best;
}

/** How close x̂ is to x, higher is better: −MSE, cosine similarity, or Pearson correlation. */
export type Similarity = 'mse' | 'cosine' | 'pearson';

export function similarity(metric: Similarity, x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (metric === 'mse') return -meanSquaredError(x, y);
  if (metric === 'cosine') return cosineSimilarity(x, y);
  return pearson(x, y);
}

export function meanSquaredError(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - y[i];
    sum += d * d;
  }
  return x.length === 0 ? 0 : sum / x.length;
}

export function cosineSimilarity(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < x.length; i++) {
    xy += x[i] * y[i];
    xx += x[i] * x[i];
    yy += y[i] * y[i];
  }
  return xx === 0 || yy === 0 ? (xx === yy ? 1 : 0) : xy / Math.sqrt(xx * yy);
}

export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let mx = 0;
  let my = 0;
  for (let i = 0; i < x.length; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= x.length || 1;
  my /= x.length || 1;
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < x.length; i++) {
    const a = x[i] - mx;
    const b = y[i] - my;
    xy += a * b;
    xx += a * a;
    yy += b * b;
  }
  return xx === 0 || yy === 0 ? (xx === yy ? 1 : 0) : xy / Math.sqrt(xx * yy);
}

/** A scale of zero (an all-zero tensor) would divide by zero; the smallest normal float32 stands in. */
function positive(scale: number): number {
  return scale > 0 && Number.isFinite(scale) ? scale : 2 ** -126;
}
