/**
 * The hypervolume of a set of points: the volume of objective space they dominate, bounded by a
 * reference point. One number that grows whenever a front improves, so two sweeps' fronts can be
 * compared. Exact for two objectives (a staircase) and three (slices along the third objective, each
 * a staircase: the dimension-sweep of Fonseca, Paquete & López-Ibáñez, CEC 2006, without their
 * balanced tree — fine for fronts of thousands of points).
 *
 * Vectors are minimised (pareto.ts turns accuracy into −accuracy). Points that are not strictly
 * better than the reference in every objective add nothing.
 */
/**
 * The nadir point (worst value of each objective over `vectors`) pushed 10% further out, so the
 * extreme points of a front still add volume. An objective whose nadir is 0 is pushed by 10% of its
 * range instead, and by 1 if every point has the same value 0.
 */
export function defaultReference(vectors: readonly ArrayLike<number>[]): Float64Array {
  if (vectors.length === 0) throw new Error('defaultReference: no points');
  const d = vectors[0].length;
  const ref = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    let worst = -Infinity;
    let best = Infinity;
    for (const v of vectors) {
      worst = Math.max(worst, v[j]);
      best = Math.min(best, v[j]);
    }
    const margin = worst !== 0 ? Math.abs(worst) : worst - best !== 0 ? worst - best : 1;
    ref[j] = worst + 0.1 * margin;
  }
  return ref;
}

/** Exact hypervolume of `vectors` (2 or 3 objectives, minimised) up to `reference`. */
export function hypervolume(vectors: readonly ArrayLike<number>[], reference: ArrayLike<number>): number {
  const d = reference.length;
  if (d !== 2 && d !== 3) throw new Error(`hypervolume: exact for 2 or 3 objectives, got ${d}`);
  for (const v of vectors) if (v.length !== d) throw new Error(`hypervolume: a point has ${v.length} objectives, the reference ${d}`);
  const inside = vectors.filter((v) => Array.prototype.every.call(v, (x: number, j: number) => x < reference[j]));
  if (d === 2) return area2d(inside.map((v) => [v[0], v[1]]), reference[0], reference[1]);
  return volume3d(inside, reference);
}

/** Area dominated by 2-D points (all strictly inside the reference): sort by x, sweep the lowest y so far. */
function area2d(points: [number, number][], rx: number, ry: number): number {
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let area = 0;
  let lowestY = ry;
  for (let i = 0; i < points.length; i++) {
    const [x, y] = points[i];
    if (y >= lowestY) continue;
    // This point lowers the staircase from x to the right edge.
    area += (rx - x) * (lowestY - y);
    lowestY = y;
  }
  return area;
}

/**
 * Volume dominated by 3-D points: sorted by z, each slab between consecutive z values has the area
 * of the staircase of every point below it. The staircase is kept sorted by x (y falling), with
 * dominated points dropped as they appear, and its area updated by what each insertion adds.
 */
function volume3d(points: readonly ArrayLike<number>[], ref: ArrayLike<number>): number {
  const sorted = [...points].sort((a, b) => a[2] - b[2]);
  const xs: number[] = [];
  const ys: number[] = [];
  let area = 0;
  let volume = 0;
  for (let i = 0; i < sorted.length; i++) {
    area += insertStep(xs, ys, sorted[i][0], sorted[i][1], ref[0], ref[1]);
    const nextZ = i + 1 < sorted.length ? sorted[i + 1][2] : ref[2];
    volume += area * (nextZ - sorted[i][2]);
  }
  return volume;
}

/** Inserts (x, y) into the staircase (xs rising, ys falling); returns the area it adds. */
function insertStep(xs: number[], ys: number[], x: number, y: number, rx: number, ry: number): number {
  // First step at or right of x.
  let at = 0;
  while (at < xs.length && xs[at] < x) at++;
  // Dominated (or equal) when the step to its left, or at its x, is already at or below y.
  if (at > 0 && ys[at - 1] <= y) return 0;
  if (at < xs.length && xs[at] === x && ys[at] <= y) return 0;
  // The steps (x, y) dominates: from `at` on while their y is at or above y.
  let end = at;
  while (end < xs.length && ys[end] >= y) end++;
  const before = stairArea(xs, ys, rx, ry);
  xs.splice(at, end - at, x);
  ys.splice(at, end - at, y);
  return stairArea(xs, ys, rx, ry) - before;
}

/** Area under a staircase up to the reference; steps sorted by x with y falling. */
function stairArea(xs: readonly number[], ys: readonly number[], rx: number, ry: number): number {
  let area = 0;
  for (let i = 0; i < xs.length; i++) {
    const right = i + 1 < xs.length ? xs[i + 1] : rx;
    area += (right - xs[i]) * (ry - ys[i]);
  }
  return area;
}
