/**
 * Short fake-quant measurements of PTQ4ViT and NoisyQuant against plain uniform on the shipped tiny ViT:
 *
 *   npx tsx scripts/ptq-ablation.ts <run> [--test N] [--calib N] [--bits 8/8,6/6,4/4,4/8]
 *
 * runs: ptq4vit      PTQ4ViT (paper defaults) and its uniform-everything cosine baseline
 *       ablation     the 2×2×2 table {hessian, cosine} × twinSoftmax × twinGelu
 *       fisher       Hessian metric from labels sampled from the FP softmax (true Fisher), twins on and off
 *       noisyquant   NoisyQuant noise-only, shift-only, both, and neither (its linear baseline)
 *       uniform      Q1's uniform baselines (Base PTQ cosine on 32 images, output-MSE grid on --calib images)
 *       noisy-layers per-layer output MSE of qkv/proj/fc1/fc2: noise-only, shift-only, both, relative to neither
 *       softmax      per-layer P·V output MSE of twin vs uniform P at each activation width
 * Top-1 on the first N test images (default 1000) through fakeQuantLogits. Prints one JSON line per result.
 */
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { loadDataset } from '../src/model/datasets.js';
import { captureFloat, linearOutput, matmulOutput, type LinearCapture, type MatmulCapture } from '../src/quant/assemble.js';
import { loadCalibrationSet } from '../src/quant/calibration.js';
import { fakeQuantLogits } from '../src/quant/fakequant.js';
import { noisyquant, takesNoise } from '../src/quant/methods/noisyquant.js';
import { ptq4vit } from '../src/quant/methods/ptq4vit.js';
import type { CalibrationSet, MethodOptions, QuantizeMethod } from '../src/quant/methods/method.js';
import { quantizeUniform } from '../src/quant/methods/uniform.js';
import {
  argBest, dequantizeArray, dequantizeWeight, fakeQuantArray, initialStep, maxAbs, meanSquaredError, quantizeArray, stepGrid, uniformQuant,
} from '../src/quant/quantizers.js';
import type { ActQuant } from '../src/quant/spec.js';

const args = process.argv.slice(2);
const run = args[0] ?? 'ptq4vit';
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const testCount = Number(flag('test', '1000'));
const calibCount = Number(flag('calib', '128'));
const bitPairs = flag('bits', '8/8,6/6,4/4,4/8').split(',').map((s) => s.split('/').map(Number) as [number, number]);

const { config, params } = loadCheckpoint('workloads/models/vit-fashion-mnist.safetensors');
const test = loadDataset('fashion-mnist', 'test', testCount);
const calib = loadCalibrationSet('fashion-mnist', calibCount, 0);

function accuracy(method: QuantizeMethod, wbits: number, abits: number, extra: Record<string, unknown>, images = calib): number {
  const options: MethodOptions = { wbits, abits, seed: 0, extra };
  const q = method(config, params, images, options);
  const logits = fakeQuantLogits(q, test.pixels, test.count);
  let right = 0;
  for (let i = 0; i < test.count; i++) {
    const row = logits.subarray(i * config.numClasses, (i + 1) * config.numClasses);
    if (argBest(row.length, (j) => row[j]) === test.labels[i]) right++;
  }
  return right / test.count;
}

function report(what: Record<string, unknown>): void {
  console.log(JSON.stringify(what));
}

const started = Date.now();
if (run === 'ptq4vit' || run === 'ablation' || run === 'fisher') {
  const variants: Record<string, unknown>[] = run === 'ptq4vit'
    ? [{}, { metric: 'cosine', twinSoftmax: false, twinGelu: false }]
    : run === 'fisher'
    ? [{ gradientLabels: 'sampled' }, { gradientLabels: 'sampled', twinSoftmax: false, twinGelu: false }]
    : [true, false].flatMap((ts) => [true, false].flatMap((tg) => ['hessian', 'cosine'].map((metric) => ({ metric, twinSoftmax: ts, twinGelu: tg }))));
  for (const [wbits, abits] of bitPairs) {
    for (const extra of variants) {
      report({ method: 'ptq4vit', wbits, abits, ...extra, top1: accuracy(ptq4vit, wbits, abits, extra), seconds: (Date.now() - started) / 1000 });
    }
  }
} else if (run === 'noisyquant') {
  const variants = [
    { noise: false, shift: false }, { noise: true, shift: false }, { noise: false, shift: true }, { noise: true, shift: true },
  ];
  for (const [wbits, abits] of bitPairs) {
    for (const extra of variants) {
      report({ method: 'noisyquant', wbits, abits, ...extra, calib: calibCount, top1: accuracy(noisyquant, wbits, abits, extra), seconds: (Date.now() - started) / 1000 });
    }
  }
} else if (run === 'uniform') {
  // Q1's uniform baselines: PTQ4ViT's Base PTQ (cosine grid, α 0.5, one round) on the same 32 images
  // PTQ4ViT uses, and an output-MSE grid on all calibration images (NoisyQuant's calibration size).
  for (const [wbits, abits] of bitPairs) {
    for (const [extra, images] of [[{ scale: 'cosine' }, 32], [{ scale: 'mse' }, calibCount]] as const) {
      const subset: CalibrationSet = { count: images, pixels: calib.pixels.subarray(0, images * 784), labels: calib.labels.subarray(0, images) };
      report({ method: 'uniform', wbits, abits, ...extra, calib: images, top1: accuracy(quantizeUniform, wbits, abits, extra, subset), seconds: (Date.now() - started) / 1000 });
    }
  }
} else if (run === 'noisy-layers') {
  // Output MSE of each noisy linear layer against its float output, relative to the same layer
  // without noise or shift (clip search alone), for noise-only, shift-only and both.
  const capture = captureFloat(config, params, calib.pixels, calib.count);
  for (const [wbits, abits] of bitPairs) {
    const variants = { none: { noise: false, shift: false }, noise: { noise: true, shift: false }, shift: { noise: false, shift: true }, both: { noise: true, shift: true } };
    const mse = new Map<string, Record<string, number>>();
    for (const [label, extra] of Object.entries(variants)) {
      const q = noisyquant(config, params, calib, { wbits, abits, seed: 0, extra });
      for (const [name, op] of q.ops) {
        if (op.kind !== 'linear' || !takesNoise(name)) continue;
        const cap = capture.ops.get(name) as LinearCapture;
        const [, ins] = cap.shape;
        const xq = dequantizeArray(op.input, quantizeArray(op.input, cap.input.data, cap.input.rows, ins), cap.input.rows, ins);
        const out = linearOutput(cap, xq, dequantizeWeight(op.weight), op.bias);
        mse.set(name, { ...mse.get(name), [label]: meanSquaredError(out, cap.output.data) });
      }
    }
    for (const [name, m] of mse) {
      report({ op: name, wbits, abits, mseNone: m.none, noiseRel: m.noise / m.none, shiftRel: m.shift / m.none, bothRel: m.both / m.none });
    }
  }
} else if (run === 'softmax') {
  // P·V output MSE with V in float, so only P's quantizer differs: best twin split vs the best
  // unsigned and signed uniform steps on PTQ4ViT's grid (all chosen by this same MSE).
  const capture = captureFloat(config, params, calib.pixels, calib.count);
  for (const [, abits] of bitPairs) {
    for (let i = 0; i < config.depth; i++) {
      const cap = capture.ops.get(`blocks.${i}.attn.pv`) as MatmulCapture;
      const best = (candidates: ActQuant[]): { q: ActQuant; mse: number } => {
        const aq = new Float32Array(cap.a.data.length);
        const mses = candidates.map((q) => meanSquaredError(matmulOutput(cap, fakeQuantArray(q, cap.a.data, cap.a.rows, cap.a.cols, aq), cap.b.data), cap.output.data));
        const k = argBest(mses.length, (j) => -mses[j]);
        return { q: candidates[k], mse: mses[k] };
      };
      const grid = (signed: boolean): ActQuant[] => stepGrid(initialStep(maxAbs(cap.a.data), abits, signed), 0.01, 1.2, 100).map((s) => uniformQuant(abits, signed, s));
      const twin = best(Array.from({ length: 20 }, (_, s) => ({ kind: 'twin-softmax' as const, bits: abits, splitExponent: s })));
      const unsigned = best(grid(false));
      const signed = best(grid(true));
      report({
        op: cap.name, abits, twinMse: twin.mse, split: (twin.q as { splitExponent: number }).splitExponent,
        uniformUnsignedMse: unsigned.mse, uniformSignedMse: signed.mse,
      });
    }
  }
} else {
  throw new Error(`unknown run ${run}`);
}
