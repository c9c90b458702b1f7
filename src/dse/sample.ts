/**
 * Which points a grid or random sweep holds, and in which order: the index of a point is its place
 * in that order, the key every result line carries. The order depends only on the spec, never on
 * workers or shards.
 *
 * - grid: the cartesian product of the axes, the last axis varying fastest (like nested loops in
 *   spec order), so point i's values are the mixed-radix digits of i.
 * - random: `points` distinct grid indices drawn with Floyd's algorithm from the seed; point i is the
 *   i-th draw.
 */
import { createRng } from '../model/random.js';
import type { ParamValue } from './result.js';
import type { SweepSpec } from './spec.js';

export interface Axis {
  name: string;
  values: ParamValue[];
}

/** Points of the product of `axes`. */
export function gridSize(axes: readonly Axis[]): number {
  return axes.reduce((n, a) => n * a.values.length, 1);
}

/** The axis-value indices (genes) of grid point `g`. */
export function gridGenes(axes: readonly Axis[], g: number): number[] {
  const genes = new Array<number>(axes.length);
  for (let j = axes.length - 1; j >= 0; j--) {
    const n = axes[j].values.length;
    genes[j] = g % n;
    g = Math.floor(g / n);
  }
  return genes;
}

/** The params of the point with these axis-value indices. */
export function paramsOf(axes: readonly Axis[], genes: readonly number[]): Record<string, ParamValue> {
  const params: Record<string, ParamValue> = {};
  axes.forEach((a, j) => (params[a.name] = a.values[genes[j]]));
  return params;
}

/**
 * The grid index of every point of a grid or random sweep, in point order. A grid is every index in
 * order; nsga2 sweeps have no fixed list (nsga2.ts makes each generation from the last).
 */
export function plannedGridIndices(spec: SweepSpec, axes: readonly Axis[]): { count: number; gridIndex: (i: number) => number } {
  const size = gridSize(axes);
  const s = spec.sampling;
  if (s.kind === 'grid') return { count: size, gridIndex: (i) => i };
  if (s.kind === 'random') {
    const drawn = floydSample(size, s.points, s.seed);
    return { count: drawn.length, gridIndex: (i) => drawn[i] };
  }
  throw new Error('nsga2 sweeps have no planned point list');
}

/**
 * `k` distinct integers from [0, n) (Floyd 1987: one draw per pick, no rejection loop), in draw
 * order. Draws use 32-bit integers, so n must stay below 2^32; larger grids fall back to rejection.
 */
export function floydSample(n: number, k: number, seed: number): number[] {
  const rng = createRng(seed);
  const chosen = new Set<number>();
  const order: number[] = [];
  if (n <= 0xffffffff) {
    for (let j = n - k; j < n; j++) {
      const t = rng.nextInt(j + 1);
      const pick = chosen.has(t) ? j : t;
      chosen.add(pick);
      order.push(pick);
    }
    return order;
  }
  while (order.length < k) {
    const t = Math.floor(rng.nextFloat() * n);
    if (!chosen.has(t)) {
      chosen.add(t);
      order.push(t);
    }
  }
  return order;
}

/** Point i of shard `index` of `count`: contiguous slices, so neighbouring points (which share simulations) stay together. */
export function shardRange(points: number, shard: { index: number; count: number } | undefined): [number, number] {
  if (shard === undefined) return [0, points];
  return [Math.floor((shard.index * points) / shard.count), Math.floor(((shard.index + 1) * points) / shard.count)];
}
