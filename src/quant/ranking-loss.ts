/**
 * Liu et al. 2021's ranking loss: self-attention works through the order of the scores in each
 * row of Q·Kᵀ (which key a query attends to most), so the quantized scores Â should keep every
 * pair of the float scores A in order, with a margin θ:
 *
 *   L_rank = Σ_rows Σ_{i<j} φ((Â_i − Â_j) · sign(A_i − A_j)),   φ(p) = max(0, θ − p)
 *
 * A pair that keeps its order by at least θ costs nothing; a flipped pair costs θ plus how far it
 * flipped. Pairs tied in the float scores (sign 0) cost θ whatever Â does, as in the paper's formula.
 * Also here: the pairwise order agreement used to judge the loss (the fraction of untied float pairs
 * whose quantized order is the same, a Kendall-τ numerator).
 */

/** θ, the margin of the hinge (paper §3.3). */
export const RANKING_MARGIN = 0.2;

/** γ, the weight of L_rank against the similarity term (paper §3.3). */
export const RANKING_WEIGHT = 0.1;

/**
 * L_rank summed over `rows` rows of `cols` scores each (row-major; rows of every head and image
 * stacked), with float scores `fp` and quantized scores `quant`.
 */
export function rankingLoss(fp: ArrayLike<number>, quant: ArrayLike<number>, rows: number, cols: number, margin = RANKING_MARGIN): number {
  checkShape('rankingLoss', fp, quant, rows, cols);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let i = 0; i < cols - 1; i++) {
      const a = fp[base + i];
      const q = quant[base + i];
      for (let j = i + 1; j < cols; j++) {
        const sign = Math.sign(a - fp[base + j]);
        const hinge = margin - (q - quant[base + j]) * sign;
        if (hinge > 0) loss += hinge;
      }
    }
  }
  return loss;
}

/** Pairs i < j in one row of `cols` scores. */
export function pairsPerRow(cols: number): number {
  return (cols * (cols - 1)) / 2;
}

export interface OrderAgreement {
  /** Pairs whose quantized order matches the float order strictly. */
  concordant: number;
  /** Pairs whose quantized order is reversed. */
  discordant: number;
  /** Untied float pairs that quantization tied (order lost, not reversed). */
  quantTies: number;
  /** Pairs tied in the float scores (left out of the agreement). */
  floatTies: number;
  /** concordant / (pairs untied in float). */
  agreement: number;
}

/** How many within-row pairs keep their order after quantization. */
export function pairwiseOrderAgreement(fp: ArrayLike<number>, quant: ArrayLike<number>, rows: number, cols: number): OrderAgreement {
  checkShape('pairwiseOrderAgreement', fp, quant, rows, cols);
  let concordant = 0;
  let discordant = 0;
  let quantTies = 0;
  let floatTies = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let i = 0; i < cols - 1; i++) {
      for (let j = i + 1; j < cols; j++) {
        const s = Math.sign(fp[base + i] - fp[base + j]);
        const t = Math.sign(quant[base + i] - quant[base + j]);
        if (s === 0) floatTies++;
        else if (t === 0) quantTies++;
        else if (s === t) concordant++;
        else discordant++;
      }
    }
  }
  const untied = concordant + discordant + quantTies;
  return { concordant, discordant, quantTies, floatTies, agreement: untied === 0 ? 1 : concordant / untied };
}

function checkShape(what: string, fp: ArrayLike<number>, quant: ArrayLike<number>, rows: number, cols: number): void {
  if (fp.length !== rows * cols || quant.length !== rows * cols) {
    throw new RangeError(`${what}: expected ${rows}×${cols} scores, got ${fp.length} float and ${quant.length} quantized`);
  }
}
