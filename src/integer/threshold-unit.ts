/**
 * N2UQ's threshold unit (../shared/QUANT-METHODS.md §7a, §7d): 2^b − 1 comparators per lane and a
 * popcount replace the multiply-and-shift requantizer. The learned thresholds T_i (real units of the
 * quantizer's input) are converted once into the integer pre-quant domain of the stage that feeds
 * the unit, so the lane compares integers only:
 *
 *   code = #{ i : sign·z > θ_i }      (strict >, as N2UQ's code)
 *
 * with z the pre-quant integer at real scale S (x = z·S) and θ_i the largest integer whose value does
 * not exceed T_i (for S < 0 the lane compares −z against thresholds for |S|). θ_i is corrected against
 * the float64 products themselves, so the unit gives exactly the float quantizer's count on the
 * dequantized value z·S — element for element, not merely up to rounding (the tests check it).
 */

export interface ThresholdUnit {
  /** +1, or −1 when the input scale is negative (LayerNorm channels with γ < 0). */
  sign: number;
  /** Integer thresholds, increasing, one per comparator. */
  thresholds: Float64Array;
}

/** The comparator bank for real thresholds on inputs at `scale` (≠ 0). */
export function thresholdUnit(thresholds: Float64Array, scale: number): ThresholdUnit {
  if (!(Number.isFinite(scale) && scale !== 0)) throw new Error(`thresholdUnit: scale must be finite and non-zero, got ${scale}`);
  const sign = scale < 0 ? -1 : 1;
  const s = Math.abs(scale);
  const out = new Float64Array(thresholds.length);
  for (let i = 0; i < thresholds.length; i++) {
    const t = thresholds[i];
    let theta = Math.floor(t / s);
    // z > θ ⟺ z·s > t on float64 products (multiplication by s > 0 is monotonic in z).
    while ((theta + 1) * s <= t) theta++;
    while (theta * s > t) theta--;
    out[i] = theta;
  }
  return { sign, thresholds: out };
}

/** #{ i : sign·z > θ_i } by binary search over the increasing integer thresholds. */
export function thresholdCode(z: number, unit: ThresholdUnit): number {
  const v = unit.sign * z;
  const th = unit.thresholds;
  let lo = 0;
  let hi = th.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v > th[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
