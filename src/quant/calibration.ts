/**
 * Calibration images: a seeded draw from the TRAIN split, so no test image ever informs a quantizer
 * and the same seed always gives the same images in the same order.
 */
import { UserError } from '../config/errors.js';
import { IMAGE_SIZE, loadDataset, type DatasetName } from '../model/datasets.js';
import { createRng } from '../model/random.js';
import type { CalibrationSet } from './methods/method.js';

/** `count` distinct train images drawn uniformly without replacement (partial Fisher–Yates from `seed`). */
export function loadCalibrationSet(dataset: DatasetName, count: number, seed: number): CalibrationSet {
  if (!Number.isInteger(count) || count < 1) throw new UserError(`--calib must be a positive integer, got ${count}`);
  const train = loadDataset(dataset, 'train');
  if (count > train.count) throw new UserError(`--calib ${count} exceeds the ${train.count} images of the ${dataset} train split`);
  const rng = createRng(seed);
  const order = new Uint32Array(train.count);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const pixels = new Float32Array(count * IMAGE_SIZE);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const j = i + rng.nextInt(train.count - i);
    const pick = order[j];
    order[j] = order[i];
    order[i] = pick;
    pixels.set(train.pixels.subarray(pick * IMAGE_SIZE, (pick + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = train.labels[pick];
  }
  return { count, pixels, labels };
}
