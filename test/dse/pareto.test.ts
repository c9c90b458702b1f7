import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dominates, minimisationVectors, nonDominatedSort, paretoRanks, parseObjectives } from '../../src/dse/pareto.js';
import { refusal } from '../refusal.js';

/** Fronts by peeling: the points no remaining point dominates, checked against every pair. */
function bruteForceFronts(vectors: number[][]): number[][] {
  const left = new Set(vectors.map((_, i) => i));
  const fronts: number[][] = [];
  while (left.size > 0) {
    const front = [...left].filter((i) => ![...left].some((j) => dominates(vectors[j], vectors[i])));
    front.sort((a, b) => a - b);
    fronts.push(front);
    for (const i of front) left.delete(i);
  }
  return fronts;
}

/** Clouds of 0–60 points on a small integer grid, so ties and exact duplicates are common. */
const cloud = (d: number) => fc.array(fc.array(fc.integer({ min: 0, max: 6 }), { minLength: d, maxLength: d }), { maxLength: 60 });

describe('non-dominated sort', () => {
  for (const d of [1, 2, 3, 4]) {
    it(`every front equals a brute-force dominance check on random ${d}-objective clouds with ties and duplicates`, () => {
      fc.assert(
        fc.property(cloud(d), (vectors) => {
          expect(nonDominatedSort(vectors)).toEqual(bruteForceFronts(vectors));
        }),
        { numRuns: 300 },
      );
    });
  }

  it('agrees with brute force on continuous 2- and 3-objective clouds too', () => {
    const point = (d: number) => fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: d, maxLength: d });
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 3 }).chain((d) => fc.array(point(d), { maxLength: 80 })), (vectors) => {
        expect(nonDominatedSort(vectors)).toEqual(bruteForceFronts(vectors));
      }),
      { numRuns: 200 },
    );
  });

  it('puts identical points on the same front, and no member of a front dominates another', () => {
    const vectors = [[1, 2], [1, 2], [2, 1], [2, 2], [2, 2], [3, 3]];
    expect(nonDominatedSort(vectors)).toEqual([[0, 1, 2], [3, 4], [5]]);
    expect(Array.from(paretoRanks(vectors))).toEqual([0, 0, 0, 1, 1, 2]);
  });

  it('has no fronts for no points', () => {
    expect(nonDominatedSort([])).toEqual([]);
  });
});

describe('objectives', () => {
  const points = [
    { index: 0, metrics: { latencyS: 1e-3, energyJ: 2e-6, areaMm2: 3, accuracy: 80 } },
    { index: 1, metrics: { latencyS: 2e-3, energyJ: 1e-6, areaMm2: 3, accuracy: 90 } },
  ];

  it('minimises latency, energy and area and maximises accuracy', () => {
    const v = minimisationVectors(points, ['energy', 'accuracy']);
    expect(Array.from(v[0])).toEqual([2e-6, -80]);
    // Lower energy and higher accuracy: the second point dominates the first.
    expect(nonDominatedSort(v)).toEqual([[1], [0]]);
  });

  it('parses a comma-separated list in the order given', () => {
    expect(parseObjectives('accuracy, latency,energy')).toEqual(['accuracy', 'latency', 'energy']);
  });

  it('refuses an unknown, repeated or missing objective with one line', () => {
    expect(refusal(() => parseObjectives('latency,power'))).toBe('--objectives: unknown objective "power" (expected one of latency, energy, area, accuracy)');
    expect(refusal(() => parseObjectives('area,area'))).toBe('--objectives: objective "area" is named twice');
    expect(refusal(() => parseObjectives(' , '))).toMatch(/^--objectives: expected a comma-separated list/);
  });

  it('refuses to rank on accuracy a point that has none', () => {
    const msg = refusal(() => minimisationVectors([...points, { index: 7, metrics: { ...points[0].metrics, accuracy: null } }], ['accuracy'], 'runs/a'));
    expect(msg).toBe('runs/a: point 7 has no finite accuracy (got null), so it cannot be ranked on accuracy; leave accuracy out of --objectives');
    expect(msg).not.toContain('\n');
  });
});
