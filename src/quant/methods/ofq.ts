/**
 * OFQ (Liu, Liu & Cheng, ICML'23; QUANT-METHODS.md §6) without query–key reparameterisation: StatsQ
 * weights (s = 2·mean|W_o|, odd levels, identity STE), per-token LSQ activation steps with learned
 * pre/post biases on linear inputs, and confidence-guided annealing over the last quarter of the steps
 * (extra.cga = false keeps the schedule and turns the freezing off). Patch embedding and head at 8 bits.
 * Fine-tunes from the float checkpoint on the labelled images given as calibration set (a subset of
 * the train split); options.extra as src/quant/qat/run.ts lists.
 */
import { runQat } from '../qat/run.js';
import type { QuantizeMethod } from './method.js';

export const qatOfq: QuantizeMethod = (config, params, train, options) => runQat('ofq', config, params, train, options).quantized;
