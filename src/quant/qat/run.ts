/**
 * One QAT run as a quantization method: options from MethodOptions.extra, fine-tuning (train.ts),
 * then the QuantizedViT (to-quantized.ts) with the run's record in its options — the recipe, the
 * steps and seconds, and the oscillation measures — so the quantized-model file says how it was made.
 *
 * options.extra (all optional): epochs, batchSize, lr, minLr, warmupFraction, weightDecay, flip,
 * calibrationImages, cga (OFQ only; true/false), cgaFraction, boundaryRange, qkr (OFQ only; true/false:
 * query–key reparameterisation, off by default — it costs 2–4× the score MACs, §6d).
 */
import { UserError, describe } from '../../config/errors.js';
import type { ViTConfig, ViTParams } from '../../model/config.js';
import type { CalibrationSet, MethodOptions } from '../methods/method.js';
import type { QuantizedViT } from '../spec.js';
import type { QatMethod } from './model.js';
import { toQuantizedViT } from './to-quantized.js';
import { QAT_DEFAULTS, trainQat, type QatOptions, type QatResult, type QatStepProgress } from './train.js';

export interface QatRun {
  quantized: QuantizedViT;
  result: QatResult;
  options: QatOptions;
}

/** Fine-tunes `params` on `train` with `method` and returns the quantized model and the training record. */
export function runQat(
  method: QatMethod, config: ViTConfig, params: ViTParams, train: CalibrationSet, options: MethodOptions,
  onStep?: (p: QatStepProgress) => void,
): QatRun {
  const qat = qatOptions(method, options);
  const step = onStep ?? ((p: QatStepProgress) => options.progress?.(p.step, p.totalSteps, `loss ${p.loss.toFixed(3)}`));
  const result = trainQat(config, params, train, qat, step);
  const calib = Math.min(qat.calibrationImages, train.count);
  const imageSize = config.inChans * config.imgSize * config.imgSize;
  const record = {
    ...qat,
    trainImages: train.count,
    steps: result.totalSteps,
    trainSeconds: Math.round(result.trainSeconds * 10) / 10,
    trainAccuracy: result.trainAccuracy,
    finalLoss: result.finalLoss,
    oscillation: result.oscillation,
    frozenFraction: result.frozenFraction,
  };
  const quantized = toQuantizedViT(result.model, train.pixels.subarray(0, calib * imageSize), calib, record);
  return { quantized, result, options: qat };
}

/** MethodOptions (bits, seed, extra) → QatOptions with the defaults, refusing bad values with one line. */
export function qatOptions(method: QatMethod, options: MethodOptions): QatOptions {
  const extra = options.extra ?? {};
  for (const [flag, bits] of [['wbits', options.wbits], ['abits', options.abits]] as const) {
    if (!(Number.isInteger(bits) && bits >= 2 && bits <= 8)) throw new UserError(`${method}: ${flag} must be an integer in 2…8, got ${describe(bits)}`);
  }
  const known = ['epochs', 'batchSize', 'lr', 'minLr', 'warmupFraction', 'weightDecay', 'flip', 'calibrationImages', 'cga', 'cgaFraction', 'boundaryRange', 'qkr'];
  for (const key of Object.keys(extra)) {
    if (!known.includes(key)) throw new UserError(`${method}: unknown option ${key} (known: ${known.join(', ')})`);
  }
  const num = (key: string, fallback: number, ok: (v: number) => boolean, expected: string): number => {
    const raw = extra[key];
    if (raw === undefined) return fallback;
    const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (typeof v !== 'number' || !ok(v)) throw new UserError(`${method}: option ${key} must be ${expected}, got ${describe(raw)}`);
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const raw = extra[key];
    if (raw === undefined) return fallback;
    if (raw === true || raw === 'true') return true;
    if (raw === false || raw === 'false') return false;
    throw new UserError(`${method}: option ${key} must be true or false, got ${describe(raw)}`);
  };
  const positiveInt = (v: number): boolean => Number.isInteger(v) && v >= 1;
  const cga = method === 'ofq' && bool('cga', true);
  if (method !== 'ofq' && extra.cga !== undefined) throw new UserError(`${method}: option cga belongs to ofq only`);
  if (method !== 'ofq' && extra.qkr !== undefined && extra.qkr !== false && extra.qkr !== 'false') {
    throw new UserError(`${method}: option qkr (query–key reparameterisation) belongs to ofq only`);
  }
  const qkr = method === 'ofq' && bool('qkr', false);
  return {
    method,
    wbits: options.wbits,
    abits: options.abits,
    seed: options.seed,
    epochs: num('epochs', QAT_DEFAULTS.epochs, positiveInt, 'a positive integer'),
    batchSize: num('batchSize', QAT_DEFAULTS.batchSize, positiveInt, 'a positive integer'),
    lr: num('lr', QAT_DEFAULTS.lr, (v) => v > 0 && Number.isFinite(v), 'a positive number'),
    minLr: num('minLr', QAT_DEFAULTS.minLr, (v) => v >= 0 && Number.isFinite(v), 'a number >= 0'),
    warmupFraction: num('warmupFraction', QAT_DEFAULTS.warmupFraction, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    weightDecay: num('weightDecay', QAT_DEFAULTS.weightDecay, (v) => v >= 0 && Number.isFinite(v), 'a number >= 0'),
    flip: bool('flip', QAT_DEFAULTS.flip),
    calibrationImages: num('calibrationImages', QAT_DEFAULTS.calibrationImages, positiveInt, 'a positive integer'),
    cga: {
      enabled: cga,
      // The CGA window exists for OFQ with or without freezing, so the two runs share a schedule.
      fraction: method === 'ofq' ? num('cgaFraction', QAT_DEFAULTS.cgaFraction, (v) => v >= 0 && v < 1, 'in [0, 1)') : 0,
      boundaryRange: num('boundaryRange', QAT_DEFAULTS.boundaryRange, (v) => v > 0 && v < 0.5, 'in (0, 0.5)'),
    },
    attention: qkr ? 'qkr' : 'standard',
  };
}
