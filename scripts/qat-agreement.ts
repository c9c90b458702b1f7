/**
 * Top-1 agreement of the integer engine with fake-quant on the shipped QAT models, and both engines'
 * accuracy, on the first N test images:
 *
 *   npx tsx scripts/qat-agreement.ts [images=1000] [model …]      (names in workloads/models/qat, no extension;
 *                                                                  default: OFQ with and without QKR at each width)
 */
import { compileProgram } from '../src/integer/compile.js';
import { integerForward } from '../src/integer/engine.js';
import { loadDataset } from '../src/model/datasets.js';
import { fakeQuantLogits } from '../src/quant/fakequant.js';
import { readQuantizedModel } from '../src/quant/qmodel-file.js';

const args = process.argv.slice(2);
const images = args.length > 0 && /^\d+$/.test(args[0]) ? Number(args.shift()) : 1000;
const models = args.length > 0 ? args : [2, 3, 4].flatMap((b) => [`ofq-w${b}a${b}`, `ofq-qkr-w${b}a${b}`]);
const test = loadDataset('fashion-mnist', 'test', images);
const imageSize = test.channels * test.height * test.width;

for (const name of models) {
  const q = readQuantizedModel(`workloads/models/qat/${name}.safetensors`);
  const classes = q.config.numClasses;
  const program = compileProgram(q);
  const integer = new Float32Array(images * classes);
  for (let from = 0; from < images; from += 100) {
    const n = Math.min(100, images - from);
    integer.set(integerForward(program, test.pixels.subarray(from * imageSize, (from + n) * imageSize), n).logits, from * classes);
  }
  const fake = fakeQuantLogits(q, test.pixels, images);
  let agree = 0;
  let integerCorrect = 0;
  let fakeCorrect = 0;
  for (let i = 0; i < images; i++) {
    const a = argmax(integer, i, classes);
    const f = argmax(fake, i, classes);
    if (a === f) agree++;
    if (a === test.labels[i]) integerCorrect++;
    if (f === test.labels[i]) fakeCorrect++;
  }
  const pct = (n: number): string => `${((100 * n) / images).toFixed(1)} %`;
  console.log(`${name}: ${pct(agree)} same top-1 on ${images} test images; accuracy ${pct(integerCorrect)} integer engine, ${pct(fakeCorrect)} fake-quant`);
}

function argmax(logits: Float32Array, row: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (logits[row * classes + c] > logits[row * classes + best]) best = c;
  return best;
}
