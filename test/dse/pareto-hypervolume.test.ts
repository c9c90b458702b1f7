import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultReference, hypervolume } from '../../src/dse/hypervolume.js';
import { createRng } from '../../src/model/random.js';

/** Monte-Carlo hypervolume: the share of uniform samples in the box [ideal, ref] that some point dominates. */
function monteCarlo(vectors: number[][], ref: number[], samples: number, seed: number): { estimate: number; sigma: number } {
  const d = ref.length;
  const lo = ref.map((_, j) => Math.min(...vectors.map((v) => v[j])));
  const box = ref.reduce((p, r, j) => p * (r - lo[j]), 1);
  const rng = createRng(seed);
  const s = new Float64Array(d);
  let hits = 0;
  for (let i = 0; i < samples; i++) {
    for (let j = 0; j < d; j++) s[j] = lo[j] + rng.nextFloat() * (ref[j] - lo[j]);
    if (vectors.some((v) => v.every((x, j) => x <= s[j]))) hits++;
  }
  const p = hits / samples;
  return { estimate: p * box, sigma: Math.sqrt((p * (1 - p)) / samples) * box };
}

describe('hypervolume', () => {
  it('of one point is the box between it and the reference', () => {
    expect(hypervolume([[1, 2]], [4, 6])).toBe(3 * 4);
    expect(hypervolume([[1, 2, 3]], [2, 4, 7])).toBe(1 * 2 * 4);
  });

  it('of a 2-D staircase is the union of the boxes, counted once', () => {
    // Boxes 3×1 and 1×3 overlap in a 1×1 square: 3 + 3 − 1.
    expect(hypervolume([[1, 3], [3, 1]], [4, 4])).toBe(5);
  });

  it('of two 3-D points is the union of their boxes', () => {
    // [0,2]×[0,2]×[0,1] ∪ [0,1]×[0,1]×[0,2]: 4 + 2 − 1.
    expect(hypervolume([[0, 0, 1], [1, 1, 0]], [2, 2, 2])).toBe(5);
  });

  it('ignores dominated points, duplicates and points outside the reference', () => {
    const front = [[1, 5, 2], [2, 2, 2], [4, 1, 1]];
    const ref = [6, 6, 6];
    const base = hypervolume(front, ref);
    expect(hypervolume([...front, [2, 2, 2], [3, 3, 3], [7, 0, 0], [0, 6, 0]], ref)).toBe(base);
    expect(hypervolume([[5, 5]], [5, 6])).toBe(0);
  });

  it('of 3-D points on one z plane is their 2-D area times the depth', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 9 })), { minLength: 1, maxLength: 30 }), (pts) => {
        const flat = hypervolume(pts, [10, 10]);
        expect(hypervolume(pts.map(([x, y]) => [x, y, 3]), [10, 10, 5])).toBe(flat * 2);
      }),
      { numRuns: 200 },
    );
  });

  it('does not depend on the order of the points', () => {
    const point = fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }));
    fc.assert(
      fc.property(fc.array(point, { maxLength: 40 }), (pts) => {
        const ref = [1.1, 1.1, 1.1];
        expect(hypervolume([...pts].reverse(), ref)).toBeCloseTo(hypervolume(pts, ref), 12);
      }),
      { numRuns: 200 },
    );
  });

  for (const d of [2, 3]) {
    it(`agrees with a Monte-Carlo estimate on random ${d}-objective clouds (within 4.5 sigma)`, () => {
      for (let seed = 1; seed <= 8; seed++) {
        const rng = createRng(seed);
        const vectors = Array.from({ length: 5 + rng.nextInt(40) }, () => Array.from({ length: d }, () => rng.nextFloat()));
        const ref = Array.from(defaultReference(vectors));
        const exact = hypervolume(vectors, ref);
        const { estimate, sigma } = monteCarlo(vectors, ref, 40_000, 100 + seed);
        expect(Math.abs(exact - estimate)).toBeLessThan(4.5 * sigma + 1e-12);
      }
    });
  }

  it('puts the default reference 10% beyond the nadir, and measures a spread for a nadir at 0', () => {
    const [x, y] = defaultReference([[1, -0.9], [2, -0.5]]);
    expect(x).toBeCloseTo(2.2, 12);
    expect(y).toBeCloseTo(-0.45, 12);
    expect(Array.from(defaultReference([[-4, 3], [0, 3]]))[0]).toBeCloseTo(0.4, 12);
    expect(Array.from(defaultReference([[0], [0]]))).toEqual([0.1]);
  });
});
