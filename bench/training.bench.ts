/**
 * Images per second of the shipped Fashion-MNIST ViT (config read from its checkpoint): inference
 * (forward only, batches of 250) and training (augmentation, forward, backward, shard sums, AdamW;
 * batch 128 in 4 shards), on 1 and 2 worker threads. Each measurement follows a warm-up call, so
 * thread start-up and JIT compilation are not counted.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import type { ViTConfig } from '../src/model/config.js';
import { loadDataset } from '../src/model/datasets.js';
import { DEFAULT_ADAM, flatLayout, flattenParams, trainViT, type TrainOptions } from '../src/model/train.js';
import { workerEngine } from '../src/model/train-workers.js';
import { normaliseImages } from '../src/model/vit.js';

const CHECKPOINT = fileURLToPath(new URL('../workloads/models/vit-fashion-mnist.safetensors', import.meta.url));
const TRAIN_IMAGES = 1280;
const TEST_IMAGES = 2000;

export async function run(): Promise<void> {
  const config = shippedConfig();
  console.log(`config: patch ${config.patchSize}, width ${config.embedDim}, depth ${config.depth}, ${config.numHeads} heads, mlp ratio ${config.mlpRatio}`);
  const train = loadDataset('fashion-mnist', 'train', TRAIN_IMAGES);
  const test = loadDataset('fashion-mnist', 'test', TEST_IMAGES);
  const testImages = normaliseImages(config, test.pixels, test.count);
  const options: TrainOptions = {
    seed: 0,
    epochs: 1,
    batchSize: 128,
    lr: 2e-3,
    minLr: 1e-5,
    warmupEpochs: 0,
    weightDecay: 0.05,
    ...DEFAULT_ADAM,
    augment: 'flip',
    cropPadding: 2,
    shards: 4,
  };
  for (const workers of [1, 2]) {
    const engine = workerEngine(config, workers);
    try {
      // Warm-up: a short training run and a prediction on every worker.
      await trainViT(config, { train: loadDataset('fashion-mnist', 'train', 256) }, options, engine);
      const trained = await trainViT(config, { train }, options, engine);
      const flat = flattenParams(flatLayout(config), trained.params);
      await engine.predict(flat, testImages.subarray(0, 500 * config.inChans * config.imgSize * config.imgSize), 500);
      const start = performance.now();
      await engine.predict(flat, testImages, test.count);
      const inferSeconds = (performance.now() - start) / 1000;
      console.log(
        `workers ${workers}: training ${trained.trainImagesPerSecond.toFixed(0)} images/s (${TRAIN_IMAGES} images), ` +
          `inference ${(test.count / inferSeconds).toFixed(0)} images/s (${TEST_IMAGES} images)`,
      );
    } finally {
      await engine.close();
    }
  }
}

function shippedConfig(): ViTConfig {
  if (existsSync(CHECKPOINT)) return loadCheckpoint(CHECKPOINT).config;
  return { imgSize: 28, patchSize: 4, inChans: 1, embedDim: 64, depth: 4, numHeads: 4, mlpRatio: 2, numClasses: 10, mean: [0.2861], std: [0.3528] };
}
