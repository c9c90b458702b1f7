/**
 * NoisyQuant's noise adder (Liu et al., CVPR 2023): before the activation quantiser of a layer's
 * input, each lane adds the fixed noise value of its channel, read from a per-channel table. The
 * correction W·N is folded into the layer's bias, so the adder is the whole run-time cost. One
 * element per lane per cycle, one addition and one table read per element.
 */
import { UserError } from '../config/errors.js';
import type { NoiseAdder } from './arch.js';
import type { Actions } from './actions.js';

export interface NoiseWork {
  cycles: number;
  actions: Pick<Actions, 'noise'>;
}

/** Cycles, additions and table reads to add noise to `elements` values over `channels` channels; `where` names the op in refusals. */
export function noiseWork(unit: NoiseAdder, elements: number, channels: number, where: string): NoiseWork {
  if (unit.lanes === 0) throw new UserError(`${where} needs a noise adder (NoisyQuant quantizer), but the design has none (noise.lanes is 0; add a noise adder to the arch file, as the bitfusion-16x32 preset has)`);
  if (channels > unit.tableEntries) {
    throw new UserError(`${where} has ${channels} input channels, but noise.tableEntries holds ${unit.tableEntries} noise values`);
  }
  return { cycles: Math.ceil(elements / unit.lanes), actions: { noise: [{ bits: unit.bits, additions: elements, tableReads: elements }] } };
}
