/**
 * Training a ViT on an ImageSet: mini-batches from a seeded shuffle, optional seeded augmentation,
 * softmax cross-entropy, AdamW with decoupled weight decay, linear warm-up then cosine decay.
 *
 * Determinism: every batch is cut into a fixed number of shards (`options.shards`, whatever the
 * number of worker threads); each shard's gradient of the *batch-mean* loss is computed on its own
 * and the shard gradients are summed in shard order, in float32. Whether the shards run one after
 * the other in this thread (inProcessEngine) or on worker threads (train-workers.ts), each shard's
 * gradient is the same computation on the same inputs, so the same seed gives the same weights,
 * bit for bit, for any worker count.
 *
 * Parameters live in one flat Float32Array in paramShapes order (`flatLayout`); the ViTParams
 * handed to the model are views into it, so the optimiser walks one array and a worker receives one.
 */
import { paramShapes, type Tensor, type ViTConfig, type ViTParams } from './config.js';
import { IMAGE_SIDE, type ImageSet } from './datasets.js';
import { softmaxCrossEntropy } from './layers/softmax-cross-entropy.js';
import { createRng, shuffle, type Rng } from './random.js';
import { initViT, normaliseImages, vitBackward, vitForward } from './vit.js';

/** Seeded augmentation of training images: random crop after zero padding, and/or horizontal flip. */
export type Augment = 'none' | 'flip' | 'crop' | 'crop-flip';

export interface TrainOptions {
  seed: number;
  epochs: number;
  batchSize: number;
  /** Peak learning rate, reached at the end of warm-up. */
  lr: number;
  /** The learning rate the cosine reaches at the last step. */
  minLr: number;
  warmupEpochs: number;
  /** AdamW's decoupled decay, applied to weight matrices only (see decays()). */
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  augment: Augment;
  /** Pixels of zero padding on each side before a random 28×28 crop. */
  cropPadding: number;
  /** Gradient shards per batch: fixed independently of the worker count, so the sums are the same bits. */
  shards: number;
}

export const DEFAULT_ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

/** One shard of a batch: normalised images [count, C, H, W] and their labels. */
export interface ShardJob {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

/** A shard's gradient of the batch-mean loss (flat, paramShapes order), its summed loss and correct predictions. */
export interface ShardResult {
  grads: Float32Array;
  lossSum: number;
  correct: number;
}

/** Where shard gradients and predictions are computed: in this thread, or on worker threads. */
export interface GradientEngine {
  /** One result per job, in job order. */
  gradients(flatParams: Float32Array, jobs: ShardJob[], batchTotal: number): Promise<ShardResult[]>;
  /** The predicted class of each of `count` normalised images. */
  predict(flatParams: Float32Array, images: Float32Array, count: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export type TrainProgress =
  | {
      kind: 'step';
      epoch: number;
      /** Steps done so far, over all epochs, and in all. */
      step: number;
      totalSteps: number;
      /** Mean loss of this batch. */
      loss: number;
      lr: number;
      /** Training images per second so far, evaluation time excluded. */
      imagesPerSecond: number;
      elapsedSeconds: number;
    }
  /** `params` are the live weights (views into the trainer's array): copy or save them during the call. */
  | ({ kind: 'epoch'; params: ViTParams } & EpochRecord)
  | { kind: 'evaluating'; epoch: number };

export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean loss and accuracy over the epoch's (augmented) training batches. */
  trainLoss: number;
  trainAccuracy: number;
  /** On the whole test split, after this epoch; absent without a test split. */
  testAccuracy?: number;
  /** Since the start of training, evaluation included. */
  elapsedSeconds: number;
  lr: number;
}

export interface TrainResult {
  params: ViTParams;
  epochs: EpochRecord[];
  /** Test accuracy after the last epoch (absent without a test split). */
  testAccuracy?: number;
  trainSeconds: number;
  evalSeconds: number;
  trainImagesPerSecond: number;
  /** Test images per second over all evaluations. */
  evalImagesPerSecond?: number;
}

export async function trainViT(
  config: ViTConfig,
  data: { train: ImageSet; test?: ImageSet },
  options: TrainOptions,
  engine: GradientEngine,
  onProgress: (progress: TrainProgress) => void = () => {},
): Promise<TrainResult> {
  const { train, test } = data;
  const B = options.batchSize;
  const stepsPerEpoch = Math.floor(train.count / B);
  if (!(Number.isInteger(B) && B >= 1) || stepsPerEpoch === 0) {
    throw new RangeError(`batch size must be an integer in [1, ${train.count}] (the training images), got ${B}`);
  }
  const totalSteps = options.epochs * stepsPerEpoch;
  const warmupSteps = Math.round(options.warmupEpochs * stepsPerEpoch);

  const layout = flatLayout(config);
  const flat = flattenParams(layout, initViT(config, options.seed));
  const decay = decays(layout);
  const m = new Float32Array(layout.size);
  const v = new Float32Array(layout.size);
  const grad = new Float32Array(layout.size);

  // Independent streams for the order of the images and for augmentation, both from the seed.
  const streams = createRng((options.seed ^ 0x74726169) >>> 0);
  const orderRng = createRng(streams.nextUint32());
  const augmentRng = createRng(streams.nextUint32());

  const imageSize = train.channels * train.height * train.width;
  const order = new Int32Array(train.count);
  const batchPixels = new Float32Array(B * imageSize);
  const batchLabels = new Uint8Array(B);
  const ranges = shardRanges(B, options.shards);

  const epochs: EpochRecord[] = [];
  let trainSeconds = 0;
  let evalSeconds = 0;
  const start = performance.now();
  let step = 0;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    for (let i = 0; i < order.length; i++) order[i] = i;
    shuffle(orderRng, order);
    let lossSum = 0;
    let correct = 0;
    let lr = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const stepStart = performance.now();
      for (let b = 0; b < B; b++) {
        const index = order[s * B + b];
        const source = train.pixels.subarray(index * imageSize, (index + 1) * imageSize);
        const target = batchPixels.subarray(b * imageSize, (b + 1) * imageSize);
        augmentImage(source, target, options.augment, options.cropPadding, augmentRng);
        batchLabels[b] = train.labels[index];
      }
      const images = normaliseImages(config, batchPixels, B);
      const jobs = ranges.map(([from, to]) => ({
        images: images.subarray(from * imageSize, to * imageSize),
        labels: batchLabels.subarray(from, to),
        count: to - from,
      }));
      const results = await engine.gradients(flat, jobs, B);
      grad.set(results[0].grads);
      for (let r = 1; r < results.length; r++) {
        const g = results[r].grads;
        for (let i = 0; i < grad.length; i++) grad[i] += g[i];
      }
      let batchLoss = 0;
      for (const result of results) {
        batchLoss += result.lossSum;
        correct += result.correct;
      }
      lossSum += batchLoss;
      lr = learningRate(step, totalSteps, warmupSteps, options);
      step++;
      adamWStep(flat, grad, m, v, decay, lr, step, options);
      trainSeconds += (performance.now() - stepStart) / 1000;
      // Let timers (the progress bar) and worker messages run: the in-process engine never waits.
      await new Promise<void>((resolve) => setImmediate(resolve));
      onProgress({
        kind: 'step',
        epoch,
        step,
        totalSteps,
        loss: batchLoss / B,
        lr,
        imagesPerSecond: (step * B) / trainSeconds,
        elapsedSeconds: (performance.now() - start) / 1000,
      });
    }
    let testAccuracy: number | undefined;
    if (test) {
      onProgress({ kind: 'evaluating', epoch });
      const evalStart = performance.now();
      testAccuracy = await accuracy(config, engine, flat, test);
      evalSeconds += (performance.now() - evalStart) / 1000;
    }
    const record: EpochRecord = {
      epoch,
      trainLoss: lossSum / (stepsPerEpoch * B),
      trainAccuracy: correct / (stepsPerEpoch * B),
      elapsedSeconds: (performance.now() - start) / 1000,
      lr,
      ...(testAccuracy === undefined ? {} : { testAccuracy }),
    };
    epochs.push(record);
    onProgress({ kind: 'epoch', params: paramsFromFlat(layout, flat), ...record });
  }
  const last = epochs[epochs.length - 1];
  return {
    params: paramsFromFlat(layout, flat),
    epochs,
    ...(last?.testAccuracy === undefined ? {} : { testAccuracy: last.testAccuracy }),
    trainSeconds,
    evalSeconds,
    trainImagesPerSecond: (totalSteps * B) / trainSeconds,
    ...(test && evalSeconds > 0 ? { evalImagesPerSecond: (test.count * epochs.length) / evalSeconds } : {}),
  };
}

/** Fraction of `set` whose predicted class is its label. */
export async function accuracy(config: ViTConfig, engine: GradientEngine, flat: Float32Array, set: ImageSet): Promise<number> {
  const predicted = await engine.predict(flat, normaliseImages(config, set.pixels, set.count), set.count);
  let correct = 0;
  for (let i = 0; i < set.count; i++) if (predicted[i] === set.labels[i]) correct++;
  return correct / set.count;
}

/** Runs every shard in this thread, one after the other. */
export function inProcessEngine(config: ViTConfig): GradientEngine {
  const layout = flatLayout(config);
  return {
    gradients: async (flat, jobs, batchTotal) => jobs.map((job) => shardGradient(config, paramsFromFlat(layout, flat), job, batchTotal)),
    predict: async (flat, images, count) => predictClasses(config, paramsFromFlat(layout, flat), images, count),
    close: async () => {},
  };
}

/**
 * A shard's gradient of the mean loss over the whole batch (`batchTotal` images), so that the
 * shard gradients of a batch sum to the batch gradient.
 */
export function shardGradient(config: ViTConfig, params: ViTParams, job: ShardJob, batchTotal: number): ShardResult {
  const layout = flatLayout(config);
  const { logits, activations } = vitForward(config, params, job.images, job.count, true);
  if (!activations) throw new Error('vitForward kept no activations');
  const { loss, dLogits } = softmaxCrossEntropy(logits, job.labels, job.count, config.numClasses);
  // softmaxCrossEntropy averages over the shard; rescale to an average over the batch.
  const scale = job.count / batchTotal;
  for (let i = 0; i < dLogits.length; i++) dLogits[i] *= scale;
  const grads = new Float32Array(layout.size);
  vitBackward(config, params, activations, dLogits, paramsFromFlat(layout, grads));
  const predicted = argmaxRows(logits, job.count, config.numClasses);
  let correct = 0;
  for (let b = 0; b < job.count; b++) if (predicted[b] === job.labels[b]) correct++;
  return { grads, lossSum: loss * job.count, correct };
}

/**
 * Predicted classes in chunks of `chunk` images (the forward pass of an image does not depend on
 * the other images of its batch, so the chunk size changes nothing but memory).
 */
export function predictClasses(config: ViTConfig, params: ViTParams, images: Float32Array, count: number, chunk = 250): Uint8Array {
  const imageSize = config.inChans * config.imgSize * config.imgSize;
  const predicted = new Uint8Array(count);
  for (let from = 0; from < count; from += chunk) {
    const n = Math.min(chunk, count - from);
    const { logits } = vitForward(config, params, images.subarray(from * imageSize, (from + n) * imageSize), n, false);
    predicted.set(argmaxRows(logits, n, config.numClasses), from);
  }
  return predicted;
}

/** [from, to) image ranges of the non-empty shards of a batch of `batch` images cut into `shards`. */
export function shardRanges(batch: number, shards: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (let s = 0; s < shards; s++) {
    const from = Math.floor((s * batch) / shards);
    const to = Math.floor(((s + 1) * batch) / shards);
    if (to > from) ranges.push([from, to]);
  }
  return ranges;
}

/** Linear warm-up from lr/warmup to lr, then a half cosine down to minLr at the last step. */
export function learningRate(step: number, totalSteps: number, warmupSteps: number, o: Pick<TrainOptions, 'lr' | 'minLr'>): number {
  if (step < warmupSteps) return (o.lr * (step + 1)) / warmupSteps;
  const span = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, (step - warmupSteps) / span);
  return o.minLr + 0.5 * (o.lr - o.minLr) * (1 + Math.cos(Math.PI * progress));
}

export interface ParamSegment {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export interface FlatLayout {
  segments: ParamSegment[];
  size: number;
}

/** Each parameter's place in the flat array, in paramShapes (timm state_dict) order. */
export function flatLayout(config: ViTConfig): FlatLayout {
  const segments: ParamSegment[] = [];
  let offset = 0;
  for (const [name, shape] of paramShapes(config)) {
    const length = shape.reduce((a, b) => a * b, 1);
    segments.push({ name, shape, offset, length });
    offset += length;
  }
  return { segments, size: offset };
}

export function flattenParams(layout: FlatLayout, params: ViTParams): Float32Array {
  const flat = new Float32Array(layout.size);
  for (const { name, offset, length } of layout.segments) {
    const tensor = params.get(name);
    if (!tensor || tensor.data.length !== length) throw new Error(`parameter ${name} is missing or has ${tensor?.data.length} values, expected ${length}`);
    flat.set(tensor.data, offset);
  }
  return flat;
}

/** ViTParams whose tensors are views into `flat` (writing either writes both). */
export function paramsFromFlat(layout: FlatLayout, flat: Float32Array): ViTParams {
  const params = new Map<string, Tensor>();
  for (const { name, shape, offset, length } of layout.segments) {
    params.set(name, { shape: [...shape], data: flat.subarray(offset, offset + length) });
  }
  return params;
}

/**
 * Which values take weight decay: as timm's optimizer factory, nothing of one dimension (biases,
 * LayerNorm gains and shifts) and nothing in the model's `no_weight_decay()` (pos_embed, cls_token).
 */
export function decays(layout: FlatLayout): Uint8Array {
  const mask = new Uint8Array(layout.size);
  for (const { name, shape, offset, length } of layout.segments) {
    if (shape.length > 1 && name !== 'pos_embed' && name !== 'cls_token') mask.fill(1, offset, offset + length);
  }
  return mask;
}

/** One AdamW step (PyTorch's `torch.optim.AdamW`, step counted from 1), in place. */
export function adamWStep(
  params: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  decay: Uint8Array,
  lr: number,
  step: number,
  o: Pick<TrainOptions, 'beta1' | 'beta2' | 'eps' | 'weightDecay'>,
): void {
  const { beta1, beta2, eps, weightDecay } = o;
  const stepSize = lr / (1 - beta1 ** step);
  const sqrtCorrection2 = Math.sqrt(1 - beta2 ** step);
  const shrink = 1 - lr * weightDecay;
  for (let i = 0; i < params.length; i++) {
    const g = grad[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const p = decay[i] ? params[i] * shrink : params[i];
    params[i] = p - (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtCorrection2 + eps);
  }
}

/**
 * Copies one image [C, 28, 28] into `target`, shifted by a random crop of the zero-padded image
 * (offsets in [−pad, pad] on each axis) and/or mirrored left–right half the time.
 * The draws are made for every image in batch order, so they depend only on the seed.
 */
export function augmentImage(source: Float32Array, target: Float32Array, augment: Augment, pad: number, rng: Rng): void {
  if (augment === 'none') {
    target.set(source);
    return;
  }
  const side = IMAGE_SIDE;
  const crop = augment === 'crop' || augment === 'crop-flip';
  const dy = crop ? rng.nextInt(2 * pad + 1) - pad : 0;
  const dx = crop ? rng.nextInt(2 * pad + 1) - pad : 0;
  const flip = (augment === 'flip' || augment === 'crop-flip') && rng.nextFloat() < 0.5;
  const channels = source.length / (side * side);
  for (let c = 0; c < channels; c++) {
    const base = c * side * side;
    for (let y = 0; y < side; y++) {
      const sy = y + dy;
      for (let x = 0; x < side; x++) {
        const sx = (flip ? side - 1 - x : x) + dx;
        target[base + y * side + x] = sy >= 0 && sy < side && sx >= 0 && sx < side ? source[base + sy * side + sx] : 0;
      }
    }
  }
}

function argmaxRows(logits: Float32Array, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (logits[r * cols + c] > logits[r * cols + best]) best = c;
    out[r] = best;
  }
  return out;
}
