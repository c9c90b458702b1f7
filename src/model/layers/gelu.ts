/**
 * The exact GELU of PyTorch's nn.GELU() (approximate='none'), which timm's ViT MLP uses:
 *   gelu(x) = x·Φ(x) = ½·x·(1 + erf(x/√2)),   gelu'(x) = Φ(x) + x·φ(x).
 * Not the tanh approximation: that differs from it by up to ~1e-3, far more than float32 rounding,
 * and would shift a checkpoint's logits. Φ comes from erfFast, a table of local Taylor polynomials
 * within ~2e-15 of the float64 reference erf (far below float32 rounding), at a fraction of its cost.
 */

export type FloatArray = Float32Array | Float64Array;

/** x [N] → y [N] (may be the same array). */
export function geluForward<A extends FloatArray>(x: A, y: A, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    y[i] = v * normalCdf(v);
  }
}

/**
 * dx [N] = dy·gelu'(x), overwritten (x is the GELU input kept by the forward). Φ and φ come from one
 * table lookup: φ(x) = Φ'(x) is the derivative of the same polynomial (erf' = (2/√π)·e^(−x²)), so
 * the backward costs one Horner pass for both instead of a lookup plus Math.exp.
 */
export function geluBackward<A extends FloatArray>(x: A, dy: A, dx: A, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const z = v * Math.SQRT1_2;
    const a = Math.abs(z);
    if (a >= TABLE_END) {
      dx[i] = v > 0 ? dy[i] : 0;
      continue;
    }
    const interval = Math.floor(a * STEPS_PER_UNIT);
    const t = a - (interval + 0.5) / STEPS_PER_UNIT;
    const base = interval * (DEGREE + 1);
    // Unrolled Horner for the value p and its derivative dp (DEGREE = 8): the same operations in the
    // same order as a loop over k = 7 … 0 of { dp = dp·t + p; p = p·t + c[k] } from dp = 0, p = c[8]
    // (whose first dp step is 0·t + p = p exactly), without the loop, which cost half the time.
    let p = TAYLOR[base + 8];
    let dp = p;
    p = p * t + TAYLOR[base + 7];
    dp = dp * t + p; p = p * t + TAYLOR[base + 6];
    dp = dp * t + p; p = p * t + TAYLOR[base + 5];
    dp = dp * t + p; p = p * t + TAYLOR[base + 4];
    dp = dp * t + p; p = p * t + TAYLOR[base + 3];
    dp = dp * t + p; p = p * t + TAYLOR[base + 2];
    dp = dp * t + p; p = p * t + TAYLOR[base + 1];
    dp = dp * t + p; p = p * t + TAYLOR[base];
    const cdf = 0.5 * (1 + (z < 0 ? -p : p));
    const pdf = 0.5 * Math.SQRT1_2 * dp;
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

/**
 * geluForward and, for the backward, slope [N] = gelu'(x) in float64 exactly as geluBackward forms it
 * (the same Horner pass gives Φ for the value and φ for the slope, so the training forward pays a
 * little more and the backward almost nothing). Beyond the table, where geluBackward passes dy
 * through (x > 0) or writes 0 (x < 0), the slope is 1 and ZERO_SLOPE: dy·1 = dy exactly, and a
 * stored 0 would give dy·0 = −0 for negative dy where geluBackward writes +0.
 */
export function geluForwardKeepSlope<A extends FloatArray>(x: A, y: A, slope: Float64Array, n: number): void {
  const table = TAYLOR;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const z = v * Math.SQRT1_2;
    const a = Math.abs(z);
    if (a >= TABLE_END) {
      // erfFast is ±1 here, so Φ is 1 or 0 and y = v·Φ as in geluForward (−∞·0 = NaN included).
      y[i] = v * (z > 0 ? 1 : 0);
      slope[i] = v > 0 ? 1 : ZERO_SLOPE;
      continue;
    }
    // Math.floor for 0 ≤ a < 6 (a NaN gives interval 0 but t NaN, so NaN out as before), ~10% faster.
    const interval = (a * STEPS_PER_UNIT) | 0;
    const t = a - (interval + 0.5) / STEPS_PER_UNIT;
    const base = interval * (DEGREE + 1);
    // geluBackward's unrolled Horner pass; its p is erfFast's value to the bit (same operations).
    let p = table[base + 8];
    let dp = p;
    p = p * t + table[base + 7];
    dp = dp * t + p; p = p * t + table[base + 6];
    dp = dp * t + p; p = p * t + table[base + 5];
    dp = dp * t + p; p = p * t + table[base + 4];
    dp = dp * t + p; p = p * t + table[base + 3];
    dp = dp * t + p; p = p * t + table[base + 2];
    dp = dp * t + p; p = p * t + table[base + 1];
    dp = dp * t + p; p = p * t + table[base];
    const cdf = 0.5 * (1 + (z < 0 ? -p : p));
    const pdf = 0.5 * Math.SQRT1_2 * dp;
    y[i] = v * cdf;
    slope[i] = cdf + v * pdf;
  }
}

/** dx [N] = dy·slope (slope from geluForwardKeepSlope), overwritten: geluBackward's result to the bit. */
export function geluBackwardFromSlope<A extends FloatArray>(slope: Float64Array, dy: A, dx: A, n: number): void {
  for (let i = 0; i < n; i++) {
    const s = slope[i];
    dx[i] = s === ZERO_SLOPE ? 0 : dy[i] * s;
  }
}

/** Φ(x), the standard normal CDF, to ~1e-15 absolute. */
export function normalCdf(x: number): number {
  return 0.5 * (1 + erfFast(x * Math.SQRT1_2));
}

/**
 * erf(x) to ~1e-15 absolute from a table: on each interval of width 1/16 over [0, 6), the Taylor
 * polynomial of degree 8 about the interval's midpoint. Its coefficients follow from the closed form
 * of erf's derivatives, erf⁽ⁿ⁾(x) = (2/√π)·(−1)ⁿ⁻¹·Hₙ₋₁(x)·e^(−x²) (Hermite polynomials), and
 * the first term left out is below 1e-15 for |t| ≤ 1/32. Beyond 6, erf is ±1 in float64 (erfc(6) ≈ 2e-17).
 */
export function erfFast(x: number): number {
  const a = Math.abs(x);
  if (a >= TABLE_END) return x > 0 ? 1 : -1;
  const interval = Math.floor(a * STEPS_PER_UNIT);
  const t = a - (interval + 0.5) / STEPS_PER_UNIT;
  const b = interval * (DEGREE + 1);
  // Horner over c[8] … c[0] (DEGREE = 8), unrolled: the same operations as the loop, in a third less time.
  const y = (((((((TAYLOR[b + 8] * t + TAYLOR[b + 7]) * t + TAYLOR[b + 6]) * t + TAYLOR[b + 5]) * t
    + TAYLOR[b + 4]) * t + TAYLOR[b + 3]) * t + TAYLOR[b + 2]) * t + TAYLOR[b + 1]) * t + TAYLOR[b];
  return x < 0 ? -y : y;
}

/**
 * The reference erf in float64, relative error ~1e-15 (erfFast's table is built from it).
 *  |x| < 3: erf(x) = (2/√π)·x·e^(−x²)·Σ_{n≥0} (2x²)ⁿ / (1·3·5···(2n+1))   (Abramowitz & Stegun 7.1.6)
 *           — every term is positive, so unlike the alternating Maclaurin series nothing cancels.
 *  |x| ≥ 3: 1 − erfc(|x|) with erfc from its continued fraction (below).
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a >= 3) return x > 0 ? 1 - erfcContinuedFraction(a) : erfcContinuedFraction(a) - 1;
  return erfSeries(x);
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_PI = 1 / Math.sqrt(Math.PI);

const STEPS_PER_UNIT = 16;
const TABLE_END = 6;
const DEGREE = 8;
const TAYLOR = taylorTable();
/** Marks "gelu' is exactly 0" in a kept slope; a real slope is finite (or NaN for a NaN input). */
const ZERO_SLOPE = -Infinity;

/** [interval][n] = erf⁽ⁿ⁾(x₀)/n! at each interval midpoint x₀, from the reference erf and Hermite recurrence. */
function taylorTable(): Float64Array {
  const intervals = TABLE_END * STEPS_PER_UNIT;
  const table = new Float64Array(intervals * (DEGREE + 1));
  for (let i = 0; i < intervals; i++) {
    const x0 = (i + 0.5) / STEPS_PER_UNIT;
    const base = i * (DEGREE + 1);
    table[base] = erf(x0);
    const gauss = TWO_OVER_SQRT_PI * Math.exp(-x0 * x0);
    // H₀ = 1, H₁ = 2x, Hₖ₊₁ = 2x·Hₖ − 2k·Hₖ₋₁
    let hPrev = 1;
    let h = 2 * x0;
    let factorial = 1;
    for (let n = 1; n <= DEGREE; n++) {
      factorial *= n;
      const hermite = n === 1 ? hPrev : h; // Hₙ₋₁
      table[base + n] = ((n % 2 === 1 ? 1 : -1) * gauss * hermite) / factorial;
      if (n >= 2) {
        const next = 2 * x0 * h - 2 * (n - 1) * hPrev;
        hPrev = h;
        h = next;
      }
    }
  }
  return table;
}

function erfSeries(x: number): number {
  const x2 = x * x;
  let term = 1;
  let sum = 1;
  for (let n = 1; term > 1e-17 * sum; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * x * Math.exp(-x2) * sum;
}

/**
 * erfc(x) for x ≥ 3 from Laplace's continued fraction (A&S 7.1.14)
 *   erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
 * evaluated from the bottom; at x ≥ 3, 60 levels converge to float64 precision.
 */
function erfcContinuedFraction(x: number): number {
  let f = x;
  for (let n = 60; n >= 1; n--) f = x + n / 2 / f;
  return (INV_SQRT_PI * Math.exp(-x * x)) / f;
}
