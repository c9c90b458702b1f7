/**
 * The registry of quantization methods: every method the CLI and the sweep can run, by name. A
 * method of spec.ts's list that is not built yet is absent, and asking for it is a user error.
 */
import { UserError, describe } from '../../config/errors.js';
import type { ViTConfig, ViTParams } from '../../model/config.js';
import { QAT_METHODS, QUANT_METHODS, type QuantizedViT, type QuantMethod } from '../spec.js';
import type { CalibrationSet, MethodOptions, QuantizeMethod } from './method.js';
import { liu2021 } from './liu2021.js';
import { noisyquant } from './noisyquant.js';
import { ptq4vit } from './ptq4vit.js';
import { quantizeUniform } from './uniform.js';

export const QUANT_METHOD_FUNCTIONS: Partial<Record<QuantMethod, QuantizeMethod>> = {
  uniform: quantizeUniform,
  ptq4vit,
  noisyquant,
  liu2021,
};

/** The methods that can run now, in spec.ts's order. */
export function availableMethods(): QuantMethod[] {
  return QUANT_METHODS.filter((m) => QUANT_METHOD_FUNCTIONS[m] !== undefined);
}

/** Runs method `method`; an unknown or not yet built method is refused with one line. */
export function quantizeWith(method: string, config: ViTConfig, params: ViTParams, calib: CalibrationSet, options: MethodOptions): QuantizedViT {
  if (!(QUANT_METHODS as readonly string[]).includes(method)) {
    throw new UserError(`--method must be one of ${QUANT_METHODS.join(', ')}, got ${describe(method)}`);
  }
  const run = QUANT_METHOD_FUNCTIONS[method as QuantMethod];
  if (!run && QAT_METHODS.includes(method as QuantMethod)) {
    // Fine-tuning takes minutes and a training recipe, not a calibration set: it has its own command.
    throw new UserError(`--method ${method} is quantization-aware training: run vitsim qat --method ${method} and use the model file it writes (post-training methods here: ${availableMethods().join(', ')})`);
  }
  if (!run) throw new Error(`quantizeWith: ${method} is neither registered nor a QAT method`);
  return run(config, params, calib, options);
}
