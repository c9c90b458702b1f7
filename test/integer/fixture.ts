/**
 * Shared fixtures of the integer-engine tests: the shipped Fashion-MNIST ViT quantized W8A8 by the
 * uniform method (min-max scales on 32 calibration images, so it takes well under a second), and a
 * few hundred test images.
 */
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { loadDataset, type ImageSet } from '../../src/model/datasets.js';
import { loadCalibrationSet } from '../../src/quant/calibration.js';
import { quantizeUniform } from '../../src/quant/methods/uniform.js';
import type { QuantizedViT } from '../../src/quant/spec.js';

export const MODEL_FILE = new URL('../../workloads/models/vit-fashion-mnist.safetensors', import.meta.url).pathname;

let cached: QuantizedViT | undefined;

export function uniformW8A8(): QuantizedViT {
  if (cached) return cached;
  const { config, params } = loadCheckpoint(MODEL_FILE);
  cached = quantizeUniform(config, params, loadCalibrationSet('fashion-mnist', 32, 0), { wbits: 8, abits: 8, seed: 0, extra: { scale: 'minmax' } });
  return cached;
}

export function testImages(count: number): ImageSet {
  return loadDataset('fashion-mnist', 'test', count);
}

export function argmaxRows(logits: Float32Array, classes: number): Uint8Array {
  const out = new Uint8Array(logits.length / classes);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}
