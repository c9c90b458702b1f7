/**
 * LSQ quantization-aware training (Esser et al., ICLR'20), the plain QAT baseline: learned steps for
 * every activation (per tensor) and every weight (per output channel), LSQ's step gradient and its
 * 1/√(Qp·N) gradient scale, straight-through rounding. Patch embedding and head at 8 bits.
 * Fine-tunes from the float checkpoint on the labelled images given as calibration set (a subset of
 * the train split); options.extra as src/quant/qat/run.ts lists.
 */
import { runQat } from '../qat/run.js';
import type { QuantizeMethod } from './method.js';

export const qatLsq: QuantizeMethod = (config, params, train, options) => runQat('lsq', config, params, train, options).quantized;
