import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { solveMultipleChoiceKnapsack, type KnapsackChoice } from '../../src/quant/knapsack.js';
import { refusal } from '../refusal.js';

/** Every assignment, summing values in item order as the solver does. */
function bruteForce(items: KnapsackChoice[][], budget: number): number | undefined {
  let best: number | undefined;
  const walk = (i: number, cost: number, value: number): void => {
    if (cost > budget) return;
    if (i === items.length) {
      if (best === undefined || value < best) best = value;
      return;
    }
    for (const o of items[i]) walk(i + 1, cost + o.cost, value + o.value);
  };
  walk(0, 0, 0);
  return best;
}

const choice = fc.record({ cost: fc.integer({ min: 0, max: 20 }), value: fc.integer({ min: -50, max: 50 }) });
const instance = fc.record({
  items: fc.array(fc.array(choice, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
  budget: fc.integer({ min: 0, max: 80 }),
});

describe('multiple-choice knapsack', () => {
  it('finds the brute-force optimum on random small instances and stays within the budget', () => {
    fc.assert(
      fc.property(instance, ({ items, budget }) => {
        const best = bruteForce(items, budget);
        if (best === undefined) {
          expect(() => solveMultipleChoiceKnapsack(items, budget)).toThrow(/below the smallest possible size/);
          return;
        }
        const s = solveMultipleChoiceKnapsack(items, budget);
        expect(s.value).toBe(best);
        expect(s.cost).toBeLessThanOrEqual(budget);
        expect(s.choice).toHaveLength(items.length);
        // The reported totals are those of the reported choices.
        expect(s.choice.reduce((sum, c, i) => sum + items[i][c].cost, 0)).toBe(s.cost);
        expect(s.choice.reduce((sum, c, i) => sum + items[i][c].value, 0)).toBe(s.value);
      }),
      { numRuns: 400 },
    );
  });

  it('finds the brute-force optimum with real-valued sensitivities and bit-width costs', () => {
    const real = fc.record({
      params: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }),
      omega: fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 30, maxLength: 30 }),
      meanBits: fc.integer({ min: 3, max: 7 }),
    });
    fc.assert(
      fc.property(real, ({ params, omega, meanBits }) => {
        const items = params.map((p, i) => [2, 3, 4, 5, 6, 7, 8].map((b, j) => ({ cost: p * b, value: omega[(i * 7 + j) % 30] })));
        const budget = params.reduce((a, p) => a + p, 0) * meanBits;
        const s = solveMultipleChoiceKnapsack(items, budget);
        expect(s.value).toBe(bruteForce(items, budget));
        expect(s.cost).toBeLessThanOrEqual(budget);
      }),
      { numRuns: 150 },
    );
  });

  it('spends the budget on the item whose error falls most', () => {
    // Two equal-size modules, mean 5 bits from {4, 6}: the sensitive one gets 6 bits.
    const items = [
      [{ cost: 4, value: 1 }, { cost: 6, value: 0.5 }],
      [{ cost: 4, value: 100 }, { cost: 6, value: 1 }],
    ];
    expect(solveMultipleChoiceKnapsack(items, 10).choice).toEqual([0, 1]);
  });

  it('refuses a budget below the cheapest assignment in one line', () => {
    const message = refusal(() => solveMultipleChoiceKnapsack([[{ cost: 5, value: 0 }], [{ cost: 3, value: 1 }, { cost: 4, value: 0 }]], 7, 'liu2021 mixed precision'));
    expect(message).toBe('liu2021 mixed precision: a size budget of 7 is below the smallest possible size 8');
    expect(message).not.toContain('\n');
  });
});
