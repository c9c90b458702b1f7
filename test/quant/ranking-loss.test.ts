import { describe, expect, it } from 'vitest';
import { pairsPerRow, pairwiseOrderAgreement, RANKING_MARGIN, rankingLoss } from '../../src/quant/ranking-loss.js';

describe('ranking loss', () => {
  it('is zero when every pair keeps its order by at least the margin', () => {
    expect(rankingLoss([1, 2, 3], [0.1, 0.4, 0.7], 1, 3)).toBe(0);
  });

  it('charges θ minus the kept gap when a pair keeps its order by less than the margin', () => {
    // A: 0 < 1, Â: 0 < 0.05 → φ(0.05) = 0.15.
    expect(rankingLoss([0, 1], [0, 0.05], 1, 2)).toBeCloseTo(RANKING_MARGIN - 0.05, 12);
  });

  it('charges θ plus the flip when a pair reverses', () => {
    // A: 3 > 1, Â: 0.5 < 0.8 → φ((0.5 − 0.8)·1) = 0.2 + 0.3.
    expect(rankingLoss([3, 1], [0.5, 0.8], 1, 2)).toBeCloseTo(0.5, 12);
  });

  it('charges θ for a quantized tie and for a float tie', () => {
    expect(rankingLoss([1, 2], [0.3, 0.3], 1, 2)).toBeCloseTo(0.2, 12);
    expect(rankingLoss([1, 1], [0, 5], 1, 2)).toBeCloseTo(0.2, 12);
  });

  it('sums pairs within each row only, never across rows', () => {
    // Row 0 fine; row 1 flipped by 1 (cost 1.2). Across rows the values would be out of order.
    const fp = [10, 20, 1, 2];
    const q = [10, 20, 2, 1];
    expect(rankingLoss(fp, q, 2, 2)).toBeCloseTo(1.2, 12);
    expect(rankingLoss(fp, q, 2, 2, 0)).toBeCloseTo(1, 12);
  });

  it('counts all i < j pairs of a row', () => {
    // Every pair quantized to a tie: the loss is θ per pair.
    expect(rankingLoss([1, 2, 3, 4], [0, 0, 0, 0], 1, 4)).toBeCloseTo(RANKING_MARGIN * pairsPerRow(4), 12);
    expect(pairsPerRow(17)).toBe(136);
  });
});

describe('pairwise order agreement', () => {
  it('counts concordant, reversed and tied pairs', () => {
    // (0,1) (0,3) (0,4) (1,3) (2,3) (2,4) concordant; (1,2) reversed; (0,2) (1,4) tied by quantization; (3,4) tied in float.
    const a = pairwiseOrderAgreement([1, 2, 3, 5, 5], [0, 1, 0, 7, 1], 1, 5);
    expect(a).toEqual({ concordant: 6, discordant: 1, quantTies: 2, floatTies: 1, agreement: 6 / 9 });
  });

  it('is 1 for an order-preserving map', () => {
    expect(pairwiseOrderAgreement([0.3, -1, 2], [3, -10, 20], 1, 3).agreement).toBe(1);
  });
});
