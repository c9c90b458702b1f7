/**
 * Pareto fronts of design points over any subset of latency, energy, area and accuracy.
 *
 * Every objective is turned into one to minimise (accuracy is negated), so dominance is one rule:
 * a dominates b when a is no worse in every objective and better in at least one. Identical points
 * do not dominate each other: duplicates share a front.
 *
 * The sort is Zhang et al.'s efficient non-dominated sort with binary search (ENS-BS, IEEE TEVC
 * 2015): after a lexicographic sort a point can only be dominated by points before it, and the fronts
 * that dominate it form a prefix, so each point finds its front by binary search. With two
 * objectives a front is a staircase and one comparison with its last member decides.
 */
import { UserError } from '../config/errors.js';

export type Objective = 'latency' | 'energy' | 'area' | 'accuracy';
export const OBJECTIVES: readonly Objective[] = ['latency', 'energy', 'area', 'accuracy'];

export type Direction = 'min' | 'max';

/** The metrics an objective reads: the fields of a sweep result's `metrics` it needs. */
export interface ObjectiveMetrics {
  latencyS: number;
  energyJ: number;
  areaMm2: number;
  accuracy: number | null;
}

export interface ObjectiveInfo {
  direction: Direction;
  metric: keyof ObjectiveMetrics;
  /** For people: axis titles and table headers. */
  label: string;
  unit: string;
}

export const OBJECTIVE_INFO: Record<Objective, ObjectiveInfo> = {
  latency: { direction: 'min', metric: 'latencyS', label: 'latency', unit: 's' },
  energy: { direction: 'min', metric: 'energyJ', label: 'energy per inference', unit: 'J' },
  area: { direction: 'min', metric: 'areaMm2', label: 'area', unit: 'mm²' },
  accuracy: { direction: 'max', metric: 'accuracy', label: 'top-1 accuracy', unit: '' },
};

/** `latency,energy` → the objectives, refusing unknown, repeated or no names with one line. */
export function parseObjectives(text: string, where = '--objectives'): Objective[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new UserError(`${where}: expected a comma-separated list of ${OBJECTIVES.join(', ')}, got nothing`);
  for (const name of names) {
    if (!(OBJECTIVES as readonly string[]).includes(name)) throw new UserError(`${where}: unknown objective "${name}" (expected one of ${OBJECTIVES.join(', ')})`);
  }
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw new UserError(`${where}: objective "${repeated}" is named twice`);
  return names as Objective[];
}

/**
 * Each point as a vector to minimise over `objectives` (accuracy negated). A point without the
 * metric an objective needs (no accuracy measured or cited) cannot be ranked: refused with one line
 * naming the point's index.
 */
export function minimisationVectors(points: readonly { index: number; metrics: ObjectiveMetrics }[], objectives: readonly Objective[], where = 'results'): Float64Array[] {
  return points.map(({ index, metrics }) => {
    const v = new Float64Array(objectives.length);
    objectives.forEach((o, j) => {
      const { metric, direction } = OBJECTIVE_INFO[o];
      const x = metrics[metric];
      if (x === null || !Number.isFinite(x)) {
        throw new UserError(`${where}: point ${index} has no finite ${metric} (got ${x}), so it cannot be ranked on ${o}; leave ${o} out of --objectives`);
      }
      v[j] = direction === 'min' ? x : -x;
    });
    return v;
  });
}

/** Whether a is no worse than b in every objective and better in one (both minimised). */
export function dominates(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  let better = false;
  for (let j = 0; j < a.length; j++) {
    if (a[j] > b[j]) return false;
    if (a[j] < b[j]) better = true;
  }
  return better;
}

/**
 * All fronts, best first: fronts[0] holds the indices of the non-dominated vectors, fronts[1] those
 * dominated only by fronts[0], and so on. Indices within a front are in ascending order.
 */
export function nonDominatedSort(vectors: readonly ArrayLike<number>[]): number[][] {
  const n = vectors.length;
  if (n === 0) return [];
  const d = vectors[0].length;
  const order = Array.from({ length: n }, (_, i) => i).sort((p, q) => lexicographic(vectors[p], vectors[q]) || p - q);
  const fronts: number[][] = [];
  for (const p of order) {
    const v = vectors[p];
    // The fronts dominating p are a prefix: find the first that does not.
    let lo = 0;
    let hi = fronts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (frontDominates(fronts[mid], v, vectors, d)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === fronts.length) fronts.push([p]);
    else fronts[lo].push(p);
  }
  return fronts.map((f) => f.sort((a, b) => a - b));
}

/** The front (rank 0, 1, …) of each vector: the inverse of nonDominatedSort. */
export function paretoRanks(vectors: readonly ArrayLike<number>[]): Int32Array {
  const ranks = new Int32Array(vectors.length);
  nonDominatedSort(vectors).forEach((front, r) => front.forEach((i) => (ranks[i] = r)));
  return ranks;
}

function lexicographic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return a[j] - b[j];
  return 0;
}

/**
 * Whether some member of `front` (members in lexicographic order, all before v) dominates v. With
 * two objectives the members form a staircase whose last step is the lowest: if it does not dominate
 * v, no earlier member does (an earlier one that did would dominate the last step too).
 */
function frontDominates(front: readonly number[], v: ArrayLike<number>, vectors: readonly ArrayLike<number>[], d: number): boolean {
  if (d === 2) return dominates(vectors[front[front.length - 1]], v);
  // Recent members are the likeliest to be close to v: scan backwards.
  for (let i = front.length - 1; i >= 0; i--) if (dominates(vectors[front[i]], v)) return true;
  return false;
}
