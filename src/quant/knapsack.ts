/**
 * The exact multiple-choice knapsack behind Liu et al. 2021's mixed precision: every module takes
 * exactly one bit-width, each choice has a size (params · bits) and a sensitivity Ω, and the model
 * must fit a size budget while Σ Ω is minimal.
 *
 * The paper walks a Pareto frontier of configurations (after HAWQ-v2); this is that walk done
 * exactly, item by item: after each module the frontier keeps, for every reachable total size, only
 * the cheapest-Ω partial assignment that no smaller-or-equal size beats. A dominated partial
 * assignment can never become optimal (the remaining modules add the same amounts to both), so
 * the last frontier's last point is the optimum — no discretisation of the budget, no enumeration
 * of the 5^modules configurations.
 */
import { UserError } from '../config/errors.js';

/** One option of one item: what it costs against the budget and what it adds to the objective. */
export interface KnapsackChoice {
  cost: number;
  value: number;
}

export interface KnapsackSolution {
  /** Index of the chosen option per item. */
  choice: number[];
  /** Σ cost of the chosen options (≤ budget). */
  cost: number;
  /** Σ value of the chosen options, summed in item order (the minimum). */
  value: number;
}

/**
 * Minimise Σ value over one choice per item subject to Σ cost ≤ budget. Ties in value go to the
 * smaller cost, and the order of the options breaks any remaining tie, so the answer is
 * deterministic. A budget below the cheapest assignment is the user's mistake (`what` names it).
 */
export function solveMultipleChoiceKnapsack(items: readonly (readonly KnapsackChoice[])[], budget: number, what = 'knapsack'): KnapsackSolution {
  if (items.length === 0) throw new RangeError('solveMultipleChoiceKnapsack: no items');
  for (const [i, options] of items.entries()) {
    if (options.length === 0) throw new RangeError(`solveMultipleChoiceKnapsack: item ${i} has no options`);
    for (const o of options) {
      if (!(Number.isFinite(o.cost) && o.cost >= 0 && Number.isFinite(o.value))) {
        throw new RangeError(`solveMultipleChoiceKnapsack: item ${i} has an option with cost ${o.cost}, value ${o.value}`);
      }
    }
  }
  const cheapest = items.reduce((sum, options) => sum + Math.min(...options.map((o) => o.cost)), 0);
  if (!(cheapest <= budget)) {
    throw new UserError(`${what}: a size budget of ${budget} is below the smallest possible size ${cheapest}`);
  }

  // stages[i] is the frontier after item i; each point remembers the point it extended and its option.
  const stages: Frontier[] = [];
  let frontier: Frontier = { cost: [0], value: [0], parent: [-1], option: [-1] };
  for (const options of items) {
    frontier = extend(frontier, options, budget);
    stages.push(frontier);
  }

  // The frontier has strictly decreasing value along increasing cost: its last point is the optimum.
  let point = frontier.cost.length - 1;
  const solution: KnapsackSolution = { choice: new Array<number>(items.length), cost: frontier.cost[point], value: frontier.value[point] };
  for (let i = items.length - 1; i >= 0; i--) {
    solution.choice[i] = stages[i].option[point];
    point = stages[i].parent[point];
  }
  return solution;
}

interface Frontier {
  cost: number[];
  value: number[];
  parent: number[];
  option: number[];
}

/** Every frontier point × every option within budget, pruned to the points no cheaper one dominates. */
function extend(previous: Frontier, options: readonly KnapsackChoice[], budget: number): Frontier {
  const candidates: { cost: number; value: number; parent: number; option: number; order: number }[] = [];
  for (let p = 0; p < previous.cost.length; p++) {
    for (let o = 0; o < options.length; o++) {
      const cost = previous.cost[p] + options[o].cost;
      if (cost > budget) continue;
      candidates.push({ cost, value: previous.value[p] + options[o].value, parent: p, option: o, order: candidates.length });
    }
  }
  candidates.sort((a, b) => a.cost - b.cost || a.value - b.value || a.order - b.order);
  const next: Frontier = { cost: [], value: [], parent: [], option: [] };
  let best = Infinity;
  for (const c of candidates) {
    if (!(c.value < best)) continue;
    best = c.value;
    next.cost.push(c.cost);
    next.value.push(c.value);
    next.parent.push(c.parent);
    next.option.push(c.option);
  }
  return next;
}
