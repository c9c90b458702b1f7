/**
 * LayerNorm over the last dimension, as PyTorch's nn.LayerNorm (biased variance, eps inside the
 * square root; timm's ViTs use eps = 1e-6). Statistics are accumulated in float64. The functions
 * take Float32Array (the model) or Float64Array (the gradient tests, where finite differences need
 * the extra precision).
 */

export type FloatArray = Float32Array | Float64Array;

/**
 * x [M, D], gamma [D], beta [D] → y [M, D] = (x − mean)·rstd·gamma + beta, and per row the mean [M]
 * and rstd [M] = 1/sqrt(var + eps), which the backward reuses.
 */
export function layerNormForward<A extends FloatArray>(
  x: A, gamma: A, beta: A, y: A, mean: A, rstd: A,
  m: number, d: number, eps: number,
): void {
  for (let r = 0; r < m; r++) {
    const row = r * d;
    let sum = 0;
    for (let i = 0; i < d; i++) sum += x[row + i];
    const mu = sum / d;
    // Two passes (mean, then squared deviations): no cancellation when |mean| ≫ std.
    let sq = 0;
    for (let i = 0; i < d; i++) {
      const c = x[row + i] - mu;
      sq += c * c;
    }
    const rs = 1 / Math.sqrt(sq / d + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let i = 0; i < d; i++) y[row + i] = (x[row + i] - mu) * rs * gamma[i] + beta[i];
  }
}

/**
 * Given dy [M, D]: dGamma [D] += Σ_rows dy·x̂, dBeta [D] += Σ_rows dy, and dx [M, D] (overwritten)
 *   dx = rstd · (g − mean(g) − x̂·mean(g·x̂)),   g = dy·gamma,  x̂ = (x − mean)·rstd.
 */
export function layerNormBackward<A extends FloatArray>(
  x: A, gamma: A, mean: A, rstd: A, dy: A,
  dx: A, dGamma: A, dBeta: A,
  m: number, d: number,
): void {
  const sumGamma = new Float64Array(d);
  const sumBeta = new Float64Array(d);
  for (let r = 0; r < m; r++) {
    const row = r * d;
    const mu = mean[r];
    const rs = rstd[r];
    let meanG = 0;
    let meanGXhat = 0;
    for (let i = 0; i < d; i++) {
      const xhat = (x[row + i] - mu) * rs;
      const g = dy[row + i] * gamma[i];
      meanG += g;
      meanGXhat += g * xhat;
      sumGamma[i] += dy[row + i] * xhat;
      sumBeta[i] += dy[row + i];
    }
    meanG /= d;
    meanGXhat /= d;
    for (let i = 0; i < d; i++) {
      const xhat = (x[row + i] - mu) * rs;
      dx[row + i] = rs * (dy[row + i] * gamma[i] - meanG - xhat * meanGXhat);
    }
  }
  for (let i = 0; i < d; i++) {
    dGamma[i] += sumGamma[i];
    dBeta[i] += sumBeta[i];
  }
}
