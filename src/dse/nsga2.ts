/**
 * NSGA-II (Deb, Pratap, Agarwal & Meyarivan, IEEE TEVC 2002) over a sweep's axes, for spaces too
 * large to grid. An individual is one value index per axis (its genes); variation is uniform
 * crossover and per-gene random resetting, which suit categorical axes (dataflow, DRAM type) as well
 * as ordinal ones. Constraints follow Deb's constrained domination: a feasible point beats an
 * infeasible one, and between infeasible points fewer violated constraints win.
 *
 * Point indices: generation g (0 = the random initial population) evaluates points g·P … g·P + P − 1.
 * Every random draw happens here, in one thread, in a fixed order, and a point's result depends only
 * on its params, so a run — resumed or not, with any number of workers — visits the same points.
 */
import { createRng, type Rng } from '../model/random.js';
import { nonDominatedSort } from './pareto.js';
import type { ParamValue, PointResult } from './result.js';
import { paramsOf, type Axis } from './sample.js';
import type { Objective } from './spec.js';

export interface Nsga2Options {
  population: number;
  generations: number;
  seed: number;
  crossover: number;
  mutation: number;
}

/** Evaluates a batch of points (in any order, in parallel); returns their results in batch order. */
export type EvaluateBatch = (points: { index: number; params: Record<string, ParamValue> }[]) => Promise<PointResult[]>;

/** Runs the search; returns the final population's results, best (rank, crowding) first. */
export async function nsga2(axes: readonly Axis[], objectives: readonly Objective[], options: Nsga2Options, evaluate: EvaluateBatch): Promise<PointResult[]> {
  const rng = createRng(options.seed);
  const P = options.population;
  const randomGenes = (): number[] => axes.map((a) => rng.nextInt(a.values.length));
  const run = async (generation: number, genomes: number[][]): Promise<Individual[]> => {
    const results = await evaluate(genomes.map((g, j) => ({ index: generation * P + j, params: paramsOf(axes, g) })));
    return results.map((result, j) => ({ genes: genomes[j], result }));
  };

  let population = select(await run(0, Array.from({ length: P }, randomGenes)), P, objectives);
  for (let generation = 1; generation < options.generations; generation++) {
    const children: number[][] = [];
    while (children.length < P) {
      const a = tournament(population, rng);
      const b = tournament(population, rng);
      const [c, d] = crossover(a.genes, b.genes, options.crossover, rng);
      children.push(mutate(c, axes, options.mutation, rng));
      if (children.length < P) children.push(mutate(d, axes, options.mutation, rng));
    }
    population = select([...population, ...(await run(generation, children))], P, objectives);
  }
  return population.map((p) => p.result);
}

interface Individual {
  genes: number[];
  result: PointResult;
  rank?: number;
  crowding?: number;
}

/**
 * The best `size` individuals by (constrained) front, then crowding distance; ties keep the earlier
 * index. On a grid the same genes come up again and again, and copies would crowd a front without
 * spreading it: a repeated genome competes only when the distinct ones are too few.
 */
function select(pool: Individual[], size: number, objectives: readonly Objective[]): Individual[] {
  const seen = new Set<string>();
  const distinct: Individual[] = [];
  const copies: Individual[] = [];
  for (const individual of pool) {
    const key = individual.genes.join(',');
    if (seen.has(key)) copies.push(individual);
    else distinct.push(individual);
    seen.add(key);
  }
  const best = (group: Individual[]): Individual[] =>
    rankAndCrowd(group, objectives).sort((p, q) => (p.rank as number) - (q.rank as number) || (q.crowding as number) - (p.crowding as number) || p.result.index - q.result.index);
  const chosen = best(distinct).slice(0, size);
  return chosen.length === size ? chosen : [...chosen, ...best(copies).slice(0, size - chosen.length)];
}

/** Sets rank (feasible fronts first, then infeasible points by violation count) and crowding distance. */
function rankAndCrowd(pool: Individual[], objectives: readonly Objective[]): Individual[] {
  const vector = (r: PointResult): number[] | undefined => {
    const v: number[] = [];
    for (const o of objectives) {
      const x = r.metrics[o.metric];
      if (x === null || !Number.isFinite(x)) return undefined;
      v.push(o.goal === 'min' ? x : -x);
    }
    return v;
  };
  const feasible: { individual: Individual; v: number[] }[] = [];
  const infeasible: Individual[] = [];
  for (const individual of pool) {
    const v = individual.result.feasible ? vector(individual.result) : undefined;
    if (v === undefined) infeasible.push(individual);
    else feasible.push({ individual, v });
  }
  const fronts = nonDominatedSort(feasible.map((f) => f.v));
  fronts.forEach((front, rank) => {
    const members = front.map((i) => feasible[i]);
    members.forEach((m) => {
      m.individual.rank = rank;
      m.individual.crowding = 0;
    });
    for (let k = 0; k < objectives.length; k++) {
      const sorted = [...members].sort((p, q) => p.v[k] - q.v[k] || p.individual.result.index - q.individual.result.index);
      const span = sorted[sorted.length - 1].v[k] - sorted[0].v[k];
      sorted[0].individual.crowding = Infinity;
      sorted[sorted.length - 1].individual.crowding = Infinity;
      if (span === 0) continue;
      for (let i = 1; i < sorted.length - 1; i++) {
        const individual = sorted[i].individual;
        individual.crowding = (individual.crowding as number) + (sorted[i + 1].v[k] - sorted[i - 1].v[k]) / span;
      }
    }
  });
  for (const individual of infeasible) {
    individual.rank = fronts.length + individual.result.violated.length + (individual.result.feasible ? 0 : 1);
    individual.crowding = 0;
  }
  return pool;
}

/** Binary tournament: the lower rank, then the larger crowding distance, then the earlier point. */
function tournament(population: Individual[], rng: Rng): Individual {
  const a = population[rng.nextInt(population.length)];
  const b = population[rng.nextInt(population.length)];
  const ra = a.rank as number;
  const rb = b.rank as number;
  if (ra !== rb) return ra < rb ? a : b;
  const ca = a.crowding as number;
  const cb = b.crowding as number;
  if (ca !== cb) return ca > cb ? a : b;
  return a.result.index <= b.result.index ? a : b;
}

/** Uniform crossover: with probability `p` each gene comes from either parent with even odds. */
function crossover(a: number[], b: number[], p: number, rng: Rng): [number[], number[]] {
  if (rng.nextFloat() >= p) return [[...a], [...b]];
  const c: number[] = [];
  const d: number[] = [];
  for (let j = 0; j < a.length; j++) {
    const swap = rng.nextFloat() < 0.5;
    c.push(swap ? b[j] : a[j]);
    d.push(swap ? a[j] : b[j]);
  }
  return [c, d];
}

/** Random resetting: each gene takes a new random value with probability `p`. */
function mutate(genes: number[], axes: readonly Axis[], p: number, rng: Rng): number[] {
  return genes.map((g, j) => (rng.nextFloat() < p ? rng.nextInt(axes[j].values.length) : g));
}
