/**
 * The vector unit: `lanes` SIMD lanes for everything that is not a GEMM — LayerNorm, softmax, GELU,
 * residual adds, pooling, and the requantiser on every GEMM's output. A lane is pipelined and
 * retires one element per cycle per pass over the data, so an op of E elements takes
 * ceil(E / lanes) · cyclesPerElement cycles (the arch file sets the passes per kind of work).
 *
 * For the energy model each element is decomposed into lane operations, following the integer-only
 * kernels of I-BERT (Kim et al., ICML 2021): polynomial exp and erf, integer square root.
 */
import type { VectorUnit, VectorWork } from './arch.js';
import { LANE_OPS, type Actions, type LaneOp } from './actions.js';

/** Lane operations per element by kind of work (why each count is what it is, in the comments). */
const PER_ELEMENT: Readonly<Record<VectorWork, Partial<Record<LaneOp, number>>>> = {
  // x + y.
  add: { add: 1 },
  // Running sum; the one multiply by 1/n is per vector.
  avgpool: { add: 1 },
  // i-GELU: clip to the polynomial's range, erf by a second-order polynomial (2 multiplies, 2 adds),
  // x·(1 + erf) (1 multiply), then a shift to the output scale.
  gelu: { compare: 1, multiply: 3, add: 2, shift: 1 },
  // Max search (compare), x − max (add); i-exp: z = ⌊−x/ln 2⌋ by a multiply and a shift, a
  // second-order polynomial (2 multiplies, 2 adds), the running sum (add); normalise (multiply by 1/sum).
  softmax: { compare: 1, add: 4, multiply: 4, shift: 1 },
  // Σx and Σx² (1 multiply, 2 adds), x − μ (add), × 1/σ and × γ (2 multiplies), + β (add).
  layernorm: { add: 4, multiply: 3 },
  // Requantiser: multiply by the scale, round-and-shift, add the zero point, clip to the range (2 compares).
  requant: { multiply: 1, shift: 1, add: 1, compare: 2 },
};

/** Lane operations per vector (softmax's 1/sum; LayerNorm's integer √ by Newton steps and 1/σ; pooling's 1/n). */
const PER_VECTOR: Readonly<Partial<Record<VectorWork, Partial<Record<LaneOp, number>>>>> = {
  softmax: { divide: 1 },
  layernorm: { divide: 2 },
  avgpool: { multiply: 1 },
};

export interface UnitWork {
  /** Cycles the unit is busy. */
  cycles: number;
  actions: Pick<Actions, 'vector'>;
}

/** Cycles and lane operations of `work` on `elements` values forming `vectors` vectors. */
export function vectorWork(unit: VectorUnit, work: VectorWork, elements: number, vectors: number): UnitWork {
  const cycles = Math.ceil(Math.ceil(elements / unit.lanes) * unit.cyclesPerElement[work]);
  const vector = LANE_OPS_OF[work].map(([kind, perElement, perVector]) => ({ kind, bits: unit.bits, count: perElement * elements + perVector * vectors }));
  return { cycles, actions: { vector } };
}

/** PER_ELEMENT and PER_VECTOR joined once: (lane op, per element, per vector) for each kind of work. */
const LANE_OPS_OF: Readonly<Record<VectorWork, readonly [LaneOp, number, number][]>> = Object.fromEntries(
  (Object.keys(PER_ELEMENT) as VectorWork[]).map((work) => {
    const perVector = PER_VECTOR[work] ?? {};
    const ops = LANE_OPS.filter((op) => (PER_ELEMENT[work][op] ?? 0) + (perVector[op] ?? 0) > 0);
    return [work, ops.map((op): [LaneOp, number, number] => [op, PER_ELEMENT[work][op] ?? 0, perVector[op] ?? 0])];
  }),
) as Record<VectorWork, [LaneOp, number, number][]>;
