import { describe, expect, it } from 'vitest';
import { nsga2, type EvaluateBatch } from '../../src/dse/nsga2.js';
import type { PointResult } from '../../src/dse/result.js';
import type { Objective } from '../../src/dse/spec.js';

const range = (n: number): number[] => [...Array(n).keys()];
const AXES = [
  { name: 'x', values: range(31) },
  { name: 'y', values: range(11) },
];
const OBJECTIVES: Objective[] = [
  { metric: 'latencyS', goal: 'min' },
  { metric: 'energyJ', goal: 'min' },
];

/**
 * ZDT1 on a grid (Zitzler, Deb & Thiele 2000): f1 = x, f2 = g·(1 − √(f1/g)) with g = 1 + y. Its
 * Pareto front is y = 0 for every x; `minX` adds a constraint the front must respect.
 */
function zdt1(minX = 0): { evaluate: EvaluateBatch; seen: number[] } {
  const seen: number[] = [];
  const evaluate: EvaluateBatch = async (points) =>
    points.map(({ index, params }) => {
      seen.push(index);
      const f1 = (params.x as number) / 30;
      const g = 1 + (params.y as number) / 10;
      const feasible = (params.x as number) >= minX;
      const result: PointResult = {
        index,
        params,
        feasible,
        violated: feasible ? [] : ['x >= min'],
        metrics: { latencyS: f1, energyJ: g * (1 - Math.sqrt(f1 / g)), areaMm2: 1, accuracy: null, accuracySource: null, throughputIps: 1, effectiveTops: 1, peakTops: 1, macs: 1, dramBytes: 0, cycles: 1 },
        breakdown: { energyJ: {}, areaMm2: {}, latencySByOpKind: {} },
      };
      return result;
    });
  return { evaluate, seen };
}

const OPTIONS = { population: 24, generations: 40, seed: 5, crossover: 0.9, mutation: 0.5 };

describe('NSGA-II', () => {
  it('finds the known Pareto front of ZDT1 on a grid, spread along it', async () => {
    const { evaluate, seen } = zdt1();
    const final = await nsga2(AXES, OBJECTIVES, OPTIONS, evaluate);
    expect(final).toHaveLength(24);
    const onFront = final.filter((p) => p.params.y === 0);
    expect(onFront).toHaveLength(24);
    // Crowding distance keeps the population spread out along the front, not piled on one end.
    expect(new Set(onFront.map((p) => p.params.x)).size).toBe(24);
    // Generation g evaluates points g·P … g·P + P − 1, in order.
    expect(seen).toEqual(range(24 * 40));
  });

  it('keeps infeasible points out of the final population when feasible ones exist', async () => {
    const final = await nsga2(AXES, OBJECTIVES, OPTIONS, zdt1(10).evaluate);
    expect(final.every((p) => p.feasible)).toBe(true);
    expect(final.filter((p) => p.params.y === 0).length).toBeGreaterThanOrEqual(20);
    expect(Math.min(...final.map((p) => p.params.x as number))).toBe(10);
  });

  it('visits the same points for the same seed, others for another', async () => {
    const a = await nsga2(AXES, OBJECTIVES, OPTIONS, zdt1().evaluate);
    const b = await nsga2(AXES, OBJECTIVES, OPTIONS, zdt1().evaluate);
    const c = await nsga2(AXES, OBJECTIVES, { ...OPTIONS, seed: 6 }, zdt1().evaluate);
    expect(b).toEqual(a);
    expect(c.map((p) => p.index)).not.toEqual(a.map((p) => p.index));
  });
});
