/**
 * N2UQ's threshold unit (Liu et al., CVPR 2022): instead of a requantiser, each lane compares its
 * value with `levels − 1` learned thresholds at once (a bank of 2^maxBits − 1 comparators) and
 * outputs the uniform level the value falls in. One element per lane per cycle; the comparators the
 * op's levels do not use are gated, so an element costs levels − 1 comparator evaluations.
 */
import { UserError } from '../config/errors.js';
import type { ThresholdUnit } from './arch.js';
import type { Actions } from './actions.js';

export interface ThresholdWork {
  cycles: number;
  actions: Pick<Actions, 'comparisons'>;
}

/** Cycles and comparator evaluations to threshold-quantise `elements` values to `levels` levels; `where` names the op in refusals. */
export function thresholdWork(unit: ThresholdUnit, elements: number, levels: number, where: string): ThresholdWork {
  if (unit.lanes === 0) throw new UserError(`${where} needs a threshold unit (N2UQ quantizer), but the design has none (threshold.lanes is 0; add a threshold unit to the arch file, as the bitfusion-16x32 preset has)`);
  const bank = 2 ** unit.maxBits - 1;
  if (levels - 1 > bank) {
    throw new UserError(`${where} needs ${levels - 1} thresholds per lane, but threshold.maxBits ${unit.maxBits} gives ${bank} comparators`);
  }
  return { cycles: Math.ceil(elements / unit.lanes), actions: { comparisons: [{ bits: unit.comparatorBits, count: elements * (levels - 1) }] } };
}
