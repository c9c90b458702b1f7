/**
 * N2UQ (Liu et al., CVPR'22; QUANT-METHODS.md §7): learned input thresholds with uniform output levels
 * on every block activation (the threshold unit's comparators at inference), trained through the
 * generalized straight-through estimator; weights by the entropy-preserving quantizer (odd levels,
 * equal to StatsQ's forward). Patch embedding and head at 8 bits (LSQ).
 * Fine-tunes from the float checkpoint on the labelled images given as calibration set (a subset of
 * the train split); options.extra as src/quant/qat/run.ts lists.
 */
import { runQat } from '../qat/run.js';
import type { QuantizeMethod } from './method.js';

export const qatN2uq: QuantizeMethod = (config, params, train, options) => runQat('n2uq', config, params, train, options).quantized;
