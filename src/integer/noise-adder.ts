/**
 * NoisyQuant's noise adder (../shared/QUANT-METHODS.md §3d), and every other per-channel pre-quant
 * adder (OFQ's learned pre-bias, LayerNorm's β): one adder per lane in front of the requantizer,
 * fed from a per-channel table. The table holds the real addend converted to the pre-quant integer
 * domain of the stage, round(addend[c] / S[c]) — exact when the addend lies on that grid, otherwise
 * within half a step of the (much finer than Δ) pre-quant scale. The removal of the noise after the
 * quantizer costs nothing at run time: it is already in the consuming layer's bias (spec.ts).
 */
import type { ActQuant } from '../quant/spec.js';

/** The pre-quant integer addends of `q`'s addend plus any real per-channel `extra` (β), for inputs at scale[c]. */
export function noiseAdderTable(q: ActQuant, scale: Float64Array, channels: number, extra?: Float64Array): Float64Array | undefined {
  const addend = q.kind === 'twin-softmax' ? undefined : q.addend;
  if (!addend && !extra) return undefined;
  if (addend && addend.preAdd.length !== channels) throw new Error(`noise adder: ${addend.preAdd.length} addends for ${channels} channels`);
  const table = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = scale.length === 1 ? scale[0] : scale[c];
    const real = (addend ? addend.preAdd[c] : 0) + (extra ? extra[c] : 0);
    table[c] = Math.floor(real / s + 0.5);
  }
  return table;
}

/** Whether the quantizer carries NoisyQuant noise (the trace's `noisy` kind). */
export function isNoisy(q: ActQuant): boolean {
  return q.kind !== 'twin-softmax' && q.addend?.kind === 'noise';
}
