/**
 * Measures how closely the integer engine follows fake-quant (issue #6 acceptance): top-1 agreement
 * and |Δlogit| over the Fashion-MNIST test split, at W8A8 with the uniform method on the shipped
 * model, for fake-quant with the float nonlinears and with the integer engine's float-domain
 * approximations injected. Not a test (it takes a minute); run it with
 *   npx tsx scripts/integer-agreement.ts [images=10000] [workers=2] [nonlinear=ivit]
 */
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { loadDataset } from '../src/model/datasets.js';
import { loadCalibrationSet } from '../src/quant/calibration.js';
import { fakeQuantLogits } from '../src/quant/fakequant.js';
import { quantizeUniform } from '../src/quant/methods/uniform.js';
import { evaluateInteger } from '../src/integer/evaluate.js';
import { IBERT_NONLINEARS, IVIT_NONLINEARS } from '../src/integer/nonlinear-float.js';

const images = Number(process.argv[2] ?? 10000);
const workers = Number(process.argv[3] ?? 2);
const nonlinear = (process.argv[4] ?? 'ivit') as 'ivit' | 'ibert';
const checkpoint = loadCheckpoint(new URL('../workloads/models/vit-fashion-mnist.safetensors', import.meta.url).pathname);
const calib = loadCalibrationSet('fashion-mnist', 128, 0);
const q = quantizeUniform(checkpoint.config, checkpoint.params, calib, { wbits: 8, abits: 8, seed: 0 });
const test = loadDataset('fashion-mnist', 'test', images);
const classes = checkpoint.config.numClasses;

const start = Date.now();
const integer = await evaluateInteger(q, test, { workers, logits: true, nonlinear });
const seconds = (Date.now() - start) / 1000;
console.log(`integer engine (${nonlinear}, ${workers} workers): ${test.count} images in ${seconds.toFixed(2)} s, accuracy ${pct(accuracy(integer.predictions))}, overflows ${integer.overflows}`);

for (const [label, nonlinears] of [['float nonlinears', undefined], [`${nonlinear} float-domain approximations`, nonlinear === 'ivit' ? IVIT_NONLINEARS : IBERT_NONLINEARS]] as const) {
  const fake = fakeQuantLogits(q, test.pixels, test.count, 50, nonlinears ? { nonlinears } : {});
  let agree = 0;
  let maxDiff = 0;
  const diffs = new Float64Array(test.count);
  const predicted = new Uint8Array(test.count);
  for (let i = 0; i < test.count; i++) {
    predicted[i] = argmax(fake, i);
    if (predicted[i] === integer.predictions[i]) agree++;
    let worst = 0;
    for (let c = 0; c < classes; c++) worst = Math.max(worst, Math.abs(fake[i * classes + c] - (integer.logits as Float32Array)[i * classes + c]));
    diffs[i] = worst;
    maxDiff = Math.max(maxDiff, worst);
  }
  diffs.sort();
  console.log(
    `vs fake-quant with ${label}: top-1 agreement ${pct(agree / test.count)} (${test.count - agree} differ), fake-quant accuracy ${pct(accuracy(predicted))}, ` +
      `max |Δlogit| ${maxDiff.toFixed(4)}, 99th percentile ${diffs[Math.floor(0.99 * (test.count - 1))].toFixed(4)}, median ${diffs[Math.floor(0.5 * (test.count - 1))].toFixed(4)}`,
  );
}

function argmax(logits: Float32Array, i: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
  return best;
}

function accuracy(predictions: Uint8Array): number {
  let right = 0;
  for (let i = 0; i < predictions.length; i++) if (predictions[i] === test.labels[i]) right++;
  return right / predictions.length;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)} %`;
}
