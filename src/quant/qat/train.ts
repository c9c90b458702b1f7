/**
 * Quantization-aware fine-tuning of a float ViT: quantizers initialised from a calibration batch,
 * then mini-batches from a seeded shuffle (optional seeded flips, as the float recipe), softmax
 * cross-entropy on the fake-quant forward, AdamW (train.ts's step, decay on weight matrices only) with
 * linear warm-up and a cosine to the floor learning rate.
 *
 * OFQ's confidence-guided annealing (CGA, §6b): the last `cga.fraction` of the steps run at the floor
 * learning rate (OFQ's cool-down after the cosine); in them every quantized block weight farther than
 * `cga.boundaryRange` steps from a rounding threshold gets no gradient and is put back after the
 * optimiser step (so neither Adam's momentum nor weight decay moves it). A run with `cga.enabled`
 * false keeps the same schedule, which makes the oscillation comparison like for like.
 *
 * The oscillation tracker (every method) reads the integer codes of every quantized block weight after
 * each step: `flip` = the code changed, `oscillation` = it changed in the opposite direction to its
 * previous change (OFQ's tracker counts these reversals).
 *
 * Deterministic: one thread, every draw from the seed, so the same inputs and seed give the same bits.
 */
import type { ViTConfig, ViTParams } from '../../model/config.js';
import { linearWeightShape, type AttentionForm } from '../spec.js';
import { softmaxCrossEntropy } from '../../model/layers/softmax-cross-entropy.js';
import { createRng, shuffle } from '../../model/random.js';
import { adamWStep, augmentImage, decays, DEFAULT_ADAM, learningRate } from '../../model/train.js';
import {
  lsqLimits, lsqWeightForward, statsqDistanceToThreshold, statsqForward, thresholdOffset, type LsqAct, type ThresholdAct,
} from './fake-quantizers.js';
import {
  actOperandNames, createQatModel, floatWeight, operandIsSigned, qatBackward, qatForward, quantizerGradTensors, quantizerTensors, zeroGrads,
  type QatMethod, type QatModel,
} from './model.js';

export interface QatOptions {
  method: QatMethod;
  wbits: number;
  abits: number;
  seed: number;
  epochs: number;
  batchSize: number;
  /** Peak learning rate (after warm-up), for weights and quantizer parameters alike. */
  lr: number;
  minLr: number;
  /** Fraction of the cosine phase spent warming up linearly. */
  warmupFraction: number;
  weightDecay: number;
  /** Mirror half the training images left–right (the float recipe's augmentation). */
  flip: boolean;
  /** Images (from the start of the shuffled training set) whose statistics initialise the quantizers. */
  calibrationImages: number;
  /** OFQ's CGA: the last `fraction` of steps at minLr, freezing weights farther than boundaryRange from a threshold when enabled. */
  cga: { enabled: boolean; fraction: number; boundaryRange: number };
  /** 'qkr': OFQ's query–key reparameterisation (OFQ only). */
  attention: AttentionForm;
}

export const QAT_DEFAULTS = {
  epochs: 1,
  batchSize: 64,
  lr: 1e-3,
  minLr: 1e-5,
  warmupFraction: 0.05,
  weightDecay: 0,
  flip: true,
  calibrationImages: 256,
  cgaFraction: 0.25,
  boundaryRange: 0.005,
} as const;

/** Labelled training images, pixels raw [count, C, H, W] in [0, 1]. */
export interface LabelledImages {
  count: number;
  pixels: Float32Array;
  labels: Uint8Array;
}

export interface QatStepProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  /** Of this batch. */
  accuracy: number;
  lr: number;
  /** Whether CGA freezes weights in this step. */
  annealing: boolean;
  elapsedSeconds: number;
}

export interface OscillationStats {
  /** Mean over steps of the fraction of quantized block weights whose code changed in the step. */
  flipRate: number;
  /** Mean over steps of the fraction whose code changed against the direction of its previous change. */
  oscillationRate: number;
  steps: number;
}

export interface QatResult {
  model: QatModel;
  totalSteps: number;
  trainSeconds: number;
  finalLoss: number;
  /** Mean training accuracy over the last epoch. */
  trainAccuracy: number;
  /** Oscillation before the CGA window, and inside it (with or without freezing). */
  oscillation: { main: OscillationStats; late: OscillationStats };
  /** Fraction of quantized block weights CGA froze, averaged over the CGA steps (0 without CGA). */
  frozenFraction: number;
}

export function trainQat(
  config: ViTConfig,
  floatParams: ViTParams,
  train: LabelledImages,
  options: QatOptions,
  onStep: (p: QatStepProgress) => void = () => {},
): QatResult {
  const B = options.batchSize;
  const stepsPerEpoch = Math.floor(train.count / B);
  if (!(Number.isInteger(B) && B >= 1) || stepsPerEpoch === 0) {
    throw new RangeError(`batch size must be an integer in [1, ${train.count}] (the training images), got ${B}`);
  }
  const totalSteps = options.epochs * stepsPerEpoch;
  const lateSteps = options.cga.fraction > 0 ? Math.round(options.cga.fraction * totalSteps) : 0;
  const mainSteps = totalSteps - lateSteps;
  const warmupSteps = Math.round(options.warmupFraction * mainSteps);

  const model = createQatModel(config, floatParams, options.method, options.wbits, options.abits, options.attention);
  const streams = createRng((options.seed ^ 0x71617421) >>> 0);
  const orderRng = createRng(streams.nextUint32());
  const flipRng = createRng(streams.nextUint32());
  const imageSize = config.inChans * config.imgSize * config.imgSize;
  const order = new Int32Array(train.count);
  for (let i = 0; i < order.length; i++) order[i] = i;
  shuffle(orderRng, order);
  const calib = Math.min(options.calibrationImages, train.count);
  const calibPixels = new Float32Array(calib * imageSize);
  for (let b = 0; b < calib; b++) calibPixels.set(train.pixels.subarray(order[b] * imageSize, (order[b] + 1) * imageSize), b * imageSize);
  initQuantizers(model, calibPixels, calib);

  const decay = decays(model.layout);
  const values = [model.flat, ...quantizerTensors(model)];
  const moments = values.map((v) => ({ m: new Float32Array(v.length), v: new Float32Array(v.length) }));
  // Decay as train.ts: weight matrices only; quantizer parameters never decay.
  const decayMasks: Uint8Array[] = values.map((v, i) => (i === 0 ? decay : new Uint8Array(v.length)));
  const adam = { ...DEFAULT_ADAM, weightDecay: options.weightDecay };
  const tracker = oscillationTracker(model);
  const frozen = cgaMasks(model);
  let frozenSum = 0;

  const batchPixels = new Float32Array(B * imageSize);
  const batchLabels = new Uint8Array(B);
  const start = performance.now();
  let step = 0;
  let finalLoss = NaN;
  let trainAccuracy = 0;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    if (epoch > 1) shuffle(orderRng, order);
    let correctSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      for (let b = 0; b < B; b++) {
        const index = order[s * B + b];
        const source = train.pixels.subarray(index * imageSize, (index + 1) * imageSize);
        augmentImage(source, batchPixels.subarray(b * imageSize, (b + 1) * imageSize), options.flip ? 'flip' : 'none', 0, flipRng);
        batchLabels[b] = train.labels[index];
      }
      const { logits, activations } = qatForward(model, batchPixels, B);
      const { loss, dLogits } = softmaxCrossEntropy(logits, batchLabels, B, config.numClasses);
      const grads = zeroGrads(model);
      qatBackward(model, activations, dLogits, grads);
      const gradTensors = [grads.flat, ...quantizerGradTensors(model, grads)];

      const late = step >= mainSteps;
      const annealing = late && options.cga.enabled;
      const lr = late ? options.minLr : learningRate(step, mainSteps, warmupSteps, options);
      let restore: { offset: number; values: Float32Array; mask: Uint8Array }[] = [];
      if (annealing) {
        const { count, total } = markFrozen(model, frozen, options.cga.boundaryRange);
        frozenSum += count / total;
        restore = frozen.map((f) => ({ offset: f.offset, values: model.flat.slice(f.offset, f.offset + f.mask.length), mask: f.mask }));
        for (const f of frozen) for (let i = 0; i < f.mask.length; i++) if (f.mask[i]) grads.flat[f.offset + i] = 0;
      }
      step++;
      for (let i = 0; i < values.length; i++) adamWStep(values[i], gradTensors[i], moments[i].m, moments[i].v, decayMasks[i], lr, step, adam);
      for (const r of restore) for (let i = 0; i < r.mask.length; i++) if (r.mask[i]) model.flat[r.offset + i] = r.values[i];
      clampQuantizers(model);
      tracker.record(late);

      let correct = 0;
      for (let b = 0; b < B; b++) if (argmax(logits, b, config.numClasses) === batchLabels[b]) correct++;
      correctSum += correct;
      finalLoss = loss;
      onStep({ step, totalSteps, epoch, loss, accuracy: correct / B, lr, annealing, elapsedSeconds: (performance.now() - start) / 1000 });
    }
    trainAccuracy = correctSum / (stepsPerEpoch * B);
  }
  return {
    model,
    totalSteps,
    trainSeconds: (performance.now() - start) / 1000,
    finalLoss,
    trainAccuracy,
    oscillation: tracker.summary(),
    frozenFraction: lateSteps > 0 && options.cga.enabled ? frozenSum / lateSteps : 0,
  };
}

/** Top-1 accuracy of the fake-quant QAT forward on a labelled set. */
export function qatAccuracy(model: QatModel, set: LabelledImages, chunk = 250): number {
  const imageSize = model.config.inChans * model.config.imgSize * model.config.imgSize;
  let correct = 0;
  for (let from = 0; from < set.count; from += chunk) {
    const n = Math.min(chunk, set.count - from);
    const { logits } = qatForward(model, set.pixels.subarray(from * imageSize, (from + n) * imageSize), n);
    for (let b = 0; b < n; b++) if (argmax(logits, b, model.config.numClasses) === set.labels[from + b]) correct++;
  }
  return correct / set.count;
}

/**
 * Quantizer initialisation from the float model's operands on a calibration batch. LSQ steps
 * 2·mean|x|/√Qp (signed) or 4·mean|x|/√Qp (unsigned, OFQ's rule), per token where the quantizer has
 * per-token steps; weight steps 2·mean|W_o|/√Qp per output channel. N2UQ thresholds start as exactly
 * that uniform quantizer (intervals = the LSQ step, levels from −Qn·step or 0) and then learn.
 */
export function initQuantizers(model: QatModel, pixels: Float32Array, count: number): void {
  for (const [op, wq] of model.weights) {
    if (!wq.step) continue;
    const w = floatWeight(model, op);
    const [rows, cols] = linearWeightShape(model.config, op);
    const { qp } = lsqLimits(wq.bits, true);
    for (let o = 0; o < rows; o++) {
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += Math.abs(w[o * cols + c]);
      wq.step[o] = Math.max((2 * sum) / cols / Math.sqrt(qp), 1e-5);
    }
  }
  const stats = new Map<string, { sum: Float64Array; n: Float64Array }>();
  qatForward(model, pixels, count, 'float', (name, x, rows, cols) => {
    const q = model.acts.get(name);
    if (!q) return;
    const period = q.kind === 'lsq' ? q.step.length : 1;
    const acc = { sum: new Float64Array(period), n: new Float64Array(period) };
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += Math.abs(x[r * cols + c]);
      acc.sum[r % period] += s;
      acc.n[r % period] += cols;
    }
    stats.set(name, acc);
  });
  for (const name of actOperandNames(model.config, model.attention)) {
    const q = model.acts.get(name);
    const st = stats.get(name);
    if (!q || !st) continue;
    const signed = operandIsSigned(name);
    const bits = q.bits;
    const { qn, qp } = lsqLimits(bits, signed);
    const lsqStep = (i: number): number => Math.max(((signed ? 2 : 4) * st.sum[i]) / st.n[i] / Math.sqrt(qp), 1e-5);
    if (q.kind === 'lsq') {
      for (let i = 0; i < q.step.length; i++) q.step[i] = lsqStep(i);
    } else {
      initThreshold(q, lsqStep(0), signed ? -qn * lsqStep(0) : 0);
    }
  }
}

function initThreshold(q: ThresholdAct, step: number, start: number): void {
  q.start[0] = start;
  q.intervals.fill(step);
  q.step[0] = step;
  q.offset[0] = start;
  q.minInterval = 0.01 * step;
}

/** Keeps learned steps positive and thresholds ordered after an optimiser step. */
function clampQuantizers(model: QatModel): void {
  for (const w of model.weights.values()) if (w.step) for (let i = 0; i < w.step.length; i++) w.step[i] = Math.max(w.step[i], 1e-5);
  for (const q of model.acts.values()) {
    if (q.kind === 'lsq') clampSteps(q);
    else {
      for (let i = 0; i < q.intervals.length; i++) q.intervals[i] = Math.max(q.intervals[i], q.minInterval);
      q.step[0] = Math.max(q.step[0], 1e-5);
      q.offset[0] = thresholdOffset(q);
    }
  }
}

function clampSteps(q: LsqAct): void {
  for (let i = 0; i < q.step.length; i++) q.step[i] = Math.max(q.step[i], 1e-5);
}

/** The quantized block weights (every method): their place in the flat parameters. */
export interface WeightRegion {
  op: string;
  offset: number;
  rows: number;
  cols: number;
  bits: number;
  mask: Uint8Array;
}

/**
 * With QKR the quantized weights of attn are the V rows of qkv (a region of their own) and W_qk,
 * which is formed from the q and k rows at every step and is no parameter: CGA cannot freeze it, and
 * OFQ's own CGA does not either (§6b), so the tracker and CGA see V, proj, fc1 and fc2.
 */
export function blockWeightRegions(model: QatModel): WeightRegion[] {
  const regions: WeightRegion[] = [];
  for (const seg of model.layout.segments) {
    if (!seg.name.startsWith('blocks.') || !seg.name.endsWith('.weight') || seg.shape.length !== 2) continue;
    const op = seg.name.slice(0, -'.weight'.length);
    const [rows, cols] = seg.shape;
    if (model.attention === 'qkr' && op.endsWith('.attn.qkv')) {
      const v = `${op.slice(0, -'qkv'.length)}v`;
      const d = rows / 3;
      regions.push({ op: v, offset: seg.offset + 2 * d * cols, rows: d, cols, bits: (model.weights.get(v) as { bits: number }).bits, mask: new Uint8Array(d * cols) });
      continue;
    }
    const wq = model.weights.get(op);
    if (!wq) continue;
    regions.push({ op, offset: seg.offset, rows, cols, bits: wq.bits, mask: new Uint8Array(seg.length) });
  }
  return regions;
}

function cgaMasks(model: QatModel): WeightRegion[] {
  return model.method === 'lsq' ? [] : blockWeightRegions(model);
}

/** Sets each region's mask to the weights farther than br from a rounding threshold; returns how many. */
export function markFrozen(model: QatModel, regions: WeightRegion[], br: number): { count: number; total: number } {
  let count = 0;
  let total = 0;
  for (const r of regions) {
    const distance = new Float32Array(r.mask.length);
    statsqDistanceToThreshold(model.flat.subarray(r.offset, r.offset + r.mask.length), distance, r.rows, r.cols, r.bits);
    for (let i = 0; i < distance.length; i++) {
      r.mask[i] = distance[i] > br ? 1 : 0;
      count += r.mask[i];
    }
    total += r.mask.length;
  }
  return { count, total };
}

/** Integer codes of the quantized block weights after each step, and how often they flip and reverse. */
function oscillationTracker(model: QatModel): { record(late: boolean): void; summary(): QatResult['oscillation'] } {
  const regions = blockWeightRegions(model);
  const total = regions.reduce((n, r) => n + r.mask.length, 0);
  const codesNow = (): Int32Array => {
    const codes = new Int32Array(total);
    let at = 0;
    for (const r of regions) {
      const w = model.flat.subarray(r.offset, r.offset + r.mask.length);
      const out = new Float32Array(w.length);
      const part = codes.subarray(at, at + w.length);
      const wq = model.weights.get(r.op);
      if (wq?.step) lsqWeightForward(w, wq.step, out, part, r.rows, r.cols, r.bits);
      else statsqForward(w, out, part, undefined, r.rows, r.cols, r.bits);
      at += w.length;
    }
    return codes;
  };
  let previous = codesNow();
  const lastDirection = new Int8Array(total);
  const sums = { main: { flips: 0, osc: 0, steps: 0 }, late: { flips: 0, osc: 0, steps: 0 } };
  return {
    record(late) {
      const codes = codesNow();
      let flips = 0;
      let osc = 0;
      for (let i = 0; i < total; i++) {
        const change = Math.sign(codes[i] - previous[i]);
        if (change === 0) continue;
        flips++;
        if (lastDirection[i] === -change) osc++;
        lastDirection[i] = change;
      }
      previous = codes;
      const s = late ? sums.late : sums.main;
      s.flips += flips / total;
      s.osc += osc / total;
      s.steps++;
    },
    summary() {
      const f = (s: { flips: number; osc: number; steps: number }): OscillationStats => ({
        flipRate: s.steps ? s.flips / s.steps : 0, oscillationRate: s.steps ? s.osc / s.steps : 0, steps: s.steps,
      });
      return { main: f(sums.main), late: f(sums.late) };
    },
  };
}

function argmax(logits: Float32Array, row: number, cols: number): number {
  let best = 0;
  for (let c = 1; c < cols; c++) if (logits[row * cols + c] > logits[row * cols + best]) best = c;
  return best;
}
