/**
 * The exact GELU of PyTorch's nn.GELU() (approximate='none'), which timm's ViT MLP uses:
 *   gelu(x) = x·Φ(x) = ½·x·(1 + erf(x/√2)),   gelu'(x) = Φ(x) + x·φ(x).
 * Not the tanh approximation: that differs from it by up to ~1e-3, far more than float32 rounding,
 * and would shift a checkpoint's logits. Φ comes from an erf accurate to ~1e-15 in float64.
 */

export type FloatArray = Float32Array | Float64Array;

/** x [N] → y [N] (may be the same array). */
export function geluForward<A extends FloatArray>(x: A, y: A, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    y[i] = v * normalCdf(v);
  }
}

/** dx [N] = dy·gelu'(x), overwritten (x is the GELU input kept by the forward). */
export function geluBackward<A extends FloatArray>(x: A, dy: A, dx: A, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    dx[i] = dy[i] * (normalCdf(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
  }
}

/** Φ(x), the standard normal CDF; through erfc on the left so its small tail keeps its digits. */
export function normalCdf(x: number): number {
  const z = x * Math.SQRT1_2;
  return z >= 0 ? 0.5 * (1 + erf(z)) : 0.5 * erfc(-z);
}

/**
 * erf(x) in float64, relative error ~1e-15.
 *  |x| < 3: erf(x) = (2/√π)·x·e^(−x²)·Σ_{n≥0} (2x²)ⁿ / (1·3·5···(2n+1))   (Abramowitz & Stegun 7.1.6)
 *           — every term is positive, so unlike the alternating Maclaurin series nothing cancels.
 *  |x| ≥ 3: 1 − erfc(|x|) with erfc from its continued fraction (below).
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a >= 3) return x > 0 ? 1 - erfcContinuedFraction(a) : erfcContinuedFraction(a) - 1;
  return erfSeries(x);
}

/** erfc(x) = 1 − erf(x), accurate in the right tail (erfc(5) ≈ 1.5e-12 keeps its digits). */
export function erfc(x: number): number {
  if (x >= 3) return erfcContinuedFraction(x);
  if (x <= -3) return 2 - erfcContinuedFraction(-x);
  return 1 - erfSeries(x);
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_PI = 1 / Math.sqrt(Math.PI);

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
