/**
 * Integer inference of the 10,000 Fashion-MNIST test images (issue #6 speed goal: ≤ 10 s on 2
 * cores): the shipped ViT quantized W8A8 by the uniform method (min-max scales on 32 calibration
 * images), run by evaluateInteger on 1 and 2 worker threads, wall-clock from the call to the last
 * prediction — worker start-up and program compilation included, as a user of `vitsim eval
 * --engine integer` would wait for them. Also CPU ms per image of the engine alone, in this thread,
 * for that model and for the shipped OFQ W2A2 models without and with query–key reparameterisation
 * (QKR adds two GEMMs per block: what its extra MACs cost the functional model).
 */
import { fileURLToPath } from 'node:url';
import { compileProgram } from '../src/integer/compile.js';
import { integerForward } from '../src/integer/engine.js';
import { evaluateInteger } from '../src/integer/evaluate.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { loadDataset } from '../src/model/datasets.js';
import { loadCalibrationSet } from '../src/quant/calibration.js';
import { quantizeUniform } from '../src/quant/methods/uniform.js';
import { readQuantizedModel } from '../src/quant/qmodel-file.js';
import type { QuantizedViT } from '../src/quant/spec.js';

const CHECKPOINT = fileURLToPath(new URL('../workloads/models/vit-fashion-mnist.safetensors', import.meta.url));
const QAT_DIR = fileURLToPath(new URL('../workloads/models/qat/', import.meta.url));

export async function run(): Promise<void> {
  const { config, params } = loadCheckpoint(CHECKPOINT);
  const q = quantizeUniform(config, params, loadCalibrationSet('fashion-mnist', 32, 0), { wbits: 8, abits: 8, seed: 0, extra: { scale: 'minmax' } });
  const test = loadDataset('fashion-mnist', 'test');

  // The engine alone: CPU time per image on one thread, after a warm-up batch.
  const imageSize = config.inChans * config.imgSize ** 2;
  const engineAlone = (label: string, model: QuantizedViT): void => {
    const program = compileProgram(model);
    integerForward(program, test.pixels.subarray(0, 50 * imageSize), 50);
    const images = 2000;
    const cpu0 = process.cpuUsage();
    for (let s = 0; s < images; s += 50) integerForward(program, test.pixels.subarray(s * imageSize, (s + 50) * imageSize), 50);
    const cpu = process.cpuUsage(cpu0);
    console.log(`integerForward, ${label}: ${((cpu.user + cpu.system) / 1000 / images).toFixed(3)} CPU ms per image (batch 50, one thread)`);
  };
  engineAlone('uniform W8A8', q);
  engineAlone('OFQ W2A2', readQuantizedModel(`${QAT_DIR}ofq-w2a2.safetensors`));
  engineAlone('OFQ + QKR W2A2', readQuantizedModel(`${QAT_DIR}ofq-qkr-w2a2.safetensors`));

  for (const workers of [1, 2]) {
    const start = performance.now();
    const result = await evaluateInteger(q, test, { workers, batch: 50 });
    const seconds = (performance.now() - start) / 1000;
    let correct = 0;
    for (let i = 0; i < test.count; i++) if (result.predictions[i] === test.labels[i]) correct++;
    console.log(
      `evaluateInteger, ${workers} worker${workers > 1 ? 's' : ''}: ${test.count} images in ${seconds.toFixed(2)} s ` +
        `(${(test.count / seconds).toFixed(0)} images/s; goal ≤ 10 s on 2 cores), accuracy ${((100 * correct) / test.count).toFixed(2)} %, overflows ${result.overflows}`,
    );
  }
}
