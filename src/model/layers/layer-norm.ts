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
  // Two rows at a time: each row's sums run in their own order as before, but the two independent
  // float64 add chains overlap (20% faster at D = 64). With odd M the last pair is that row twice,
  // which writes the same values twice.
  for (let r0 = 0; r0 < m; r0 += 2) {
    const r1 = Math.min(r0 + 1, m - 1);
    const row0 = r0 * d;
    const row1 = r1 * d;
    let sum0 = 0;
    let sum1 = 0;
    for (let i = 0; i < d; i++) {
      sum0 += x[row0 + i];
      sum1 += x[row1 + i];
    }
    const mu0 = sum0 / d;
    const mu1 = sum1 / d;
    // Two passes (mean, then squared deviations): no cancellation when |mean| ≫ std.
    let sq0 = 0;
    let sq1 = 0;
    for (let i = 0; i < d; i++) {
      const c0 = x[row0 + i] - mu0;
      const c1 = x[row1 + i] - mu1;
      sq0 += c0 * c0;
      sq1 += c1 * c1;
    }
    const rs0 = 1 / Math.sqrt(sq0 / d + eps);
    const rs1 = 1 / Math.sqrt(sq1 / d + eps);
    mean[r0] = mu0;
    rstd[r0] = rs0;
    mean[r1] = mu1;
    rstd[r1] = rs1;
    for (let i = 0; i < d; i++) {
      // Both read before either is written, so y may be x even when the pair is one row twice.
      const out0 = (x[row0 + i] - mu0) * rs0 * gamma[i] + beta[i];
      const out1 = (x[row1 + i] - mu1) * rs1 * gamma[i] + beta[i];
      y[row0 + i] = out0;
      y[row1 + i] = out1;
    }
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
  // Two rows at a time, as the forward: each row's float64 chains keep their order, and the column
  // sums take row r then row r + 1 exactly as a row-by-row loop would, with half the loads and stores.
  let r = 0;
  for (; r + 2 <= m; r += 2) {
    const row0 = r * d;
    const row1 = row0 + d;
    const mu0 = mean[r];
    const rs0 = rstd[r];
    const mu1 = mean[r + 1];
    const rs1 = rstd[r + 1];
    let meanG0 = 0;
    let meanGXhat0 = 0;
    let meanG1 = 0;
    let meanGXhat1 = 0;
    for (let i = 0; i < d; i++) {
      const xhat0 = (x[row0 + i] - mu0) * rs0;
      const xhat1 = (x[row1 + i] - mu1) * rs1;
      const dy0 = dy[row0 + i];
      const dy1 = dy[row1 + i];
      const g0 = dy0 * gamma[i];
      const g1 = dy1 * gamma[i];
      meanG0 += g0;
      meanGXhat0 += g0 * xhat0;
      meanG1 += g1;
      meanGXhat1 += g1 * xhat1;
      sumGamma[i] = sumGamma[i] + dy0 * xhat0 + dy1 * xhat1;
      sumBeta[i] = sumBeta[i] + dy0 + dy1;
    }
    inputGradientRow(x, gamma, dy, dx, row0, mu0, rs0, meanG0 / d, meanGXhat0 / d, d);
    inputGradientRow(x, gamma, dy, dx, row1, mu1, rs1, meanG1 / d, meanGXhat1 / d, d);
  }
  if (r < m) {
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
    inputGradientRow(x, gamma, dy, dx, row, mu, rs, meanG / d, meanGXhat / d, d);
  }
  for (let i = 0; i < d; i++) {
    dGamma[i] += sumGamma[i];
    dBeta[i] += sumBeta[i];
  }
}

/** One row of dx = rstd · (dy·gamma − mean(g) − x̂·mean(g·x̂)), given the row's two means. */
function inputGradientRow<A extends FloatArray>(
  x: A, gamma: A, dy: A, dx: A, row: number, mu: number, rs: number, meanG: number, meanGXhat: number, d: number,
): void {
  for (let i = 0; i < d; i++) {
    const xhat = (x[row + i] - mu) * rs;
    dx[row + i] = rs * (dy[row + i] * gamma[i] - meanG - xhat * meanGXhat);
  }
}
