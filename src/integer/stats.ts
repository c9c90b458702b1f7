/**
 * Measured operand statistics for the trace (src/trace/ops.ts OperandStats): per GEMM, the fraction
 * of zero operands and the mean |operand| in steps of its quantizer, over calibration images run
 * through the integer engine. "Operand" is the integer the multiplier sees — the code minus its
 * zero point for Q·Kᵀ and P·V, the code itself for a linear layer (whose zero point lives in the
 * bias; symmetric quantizers have none), each twin element once in its own range — which is what a
 * zero-skipping or bit-serial PE would exploit. Weight statistics come from the codes themselves.
 */
import type { OperandStats } from '../trace/ops.js';
import type { QuantizedViT } from '../quant/spec.js';
import { compileProgram } from './compile.js';
import type { OperandTallies } from './engine.js';
import { evaluateInteger, type IntegerEvalOptions } from './evaluate.js';
import type { OperandTally } from './quantizer-unit.js';

export type MeasuredStats = Map<string, { a?: OperandStats; b?: OperandStats }>;

/** Runs the integer engine on `images` and returns every GEMM's A (and activation or weight B) statistics. */
export async function measureOperandStats(
  q: QuantizedViT, images: { count: number; pixels: Float32Array }, options: Omit<IntegerEvalOptions, 'stats' | 'logits'> = {},
): Promise<MeasuredStats> {
  const result = await evaluateInteger(q, images, { ...options, stats: true });
  const program = compileProgram(q, options.nonlinear === undefined ? {} : { nonlinear: options.nonlinear });
  return operandStats(result.stats ?? new Map(), program.weightStats);
}

/** Tallies (and static weight statistics) → OperandStats per op. */
export function operandStats(tallies: OperandTallies, weights: Map<string, OperandStats>): MeasuredStats {
  const out: MeasuredStats = new Map();
  for (const [op, entry] of tallies) {
    const b = entry.b ? toStats(entry.b) : weights.get(op);
    out.set(op, { a: toStats(entry.a), ...(b ? { b } : {}) });
  }
  for (const [op, w] of weights) if (!out.has(op)) out.set(op, { b: w });
  return out;
}

function toStats(t: OperandTally): OperandStats {
  return t.count === 0 ? { zeroFraction: 0, meanAbs: 0 } : { zeroFraction: t.zeros / t.count, meanAbs: t.sumAbs / t.count };
}
