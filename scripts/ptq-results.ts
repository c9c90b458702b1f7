/**
 * The post-training results table in the README: every method at W8A8, W6A6, W4A4 and W4A8 on the
 * shipped Fashion-MNIST ViT, each accuracy from the bit-exact integer engine on the whole test split,
 * plus the control runs that check the papers' claims in direction (NoisyQuant vs uniform, twin vs
 * uniform post-softmax quantization, mixed vs uniform bits at the same mean).
 *
 *   npx tsx scripts/ptq-results.ts [--out reports/ptq] [--limit N] [--workers 2] [--only W4A4]
 *   npx tsx scripts/ptq-results.ts --out reports/ptq-low-bits --bits W3A3,W2A2   (every variant at these bits: the QAT comparison)
 *   … --resume   keeps the rows <out>/results.json already holds (same method label and bits) and runs the rest
 *
 * Writes <out>/results.csv, results.json and results.md (with the machine, the date and this command),
 * and the quantized models of the table to <out>/models/ (not committed: a rerun makes them again).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { evaluateInteger } from '../src/integer/evaluate.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { loadDataset } from '../src/model/datasets.js';
import { normaliseImages, vitForward } from '../src/model/vit.js';
import { loadCalibrationSet } from '../src/quant/calibration.js';
import { quantizeWith } from '../src/quant/methods/index.js';
import type { CalibrationSet } from '../src/quant/methods/method.js';
import { writeQuantizedModel } from '../src/quant/qmodel-file.js';
import { markdownTable, writeCsv, type Column } from '../src/report/table.js';

const MODEL = 'workloads/models/vit-fashion-mnist.safetensors';
/** The commit the run started from (helpers may commit while it runs). */
const STARTED_AT = commit();
const SEED = 0;
/** Calibration images drawn from the train split; each method uses at most its own default of them. */
const CALIB = 256;

interface Variant {
  label: string;
  method: string;
  extra?: Record<string, unknown>;
  /** Bit settings this variant runs at (controls only where the claim is about). */
  bits: readonly string[];
  /** Calibration images, when fewer than CALIB. */
  calib?: number;
}

const ALL_BITS = ['W8A8', 'W6A6', 'W4A4', 'W4A8'] as const;
const VARIANTS: Variant[] = [
  { label: 'uniform (Base PTQ, cosine)', method: 'uniform', bits: ALL_BITS },
  { label: 'uniform (min-max)', method: 'uniform', extra: { scale: 'minmax' }, bits: ALL_BITS },
  { label: 'PTQ4ViT', method: 'ptq4vit', bits: ALL_BITS },
  { label: 'PTQ4ViT without twin-softmax', method: 'ptq4vit', extra: { twinSoftmax: false }, bits: ['W6A6', 'W4A4'] },
  { label: 'NoisyQuant', method: 'noisyquant', bits: ALL_BITS },
  { label: 'NoisyQuant, shift only', method: 'noisyquant', extra: { noise: false, shift: true }, bits: ['W6A6', 'W4A4'] },
  { label: 'NoisyQuant, noise + shift', method: 'noisyquant', extra: { shift: true }, bits: ['W6A6', 'W4A4'] },
  // Liu et al.'s alternating search runs to 20 rounds over 100-point grids by default: on 32 images,
  // 3 rounds over 50 points keep the table (mixed precision calibrates every candidate width) within
  // minutes per row (PTQ4ViT's README: rounds beyond the first change < 0.05 pt, ≥ 20 points suffice).
  { label: 'Liu et al. 2021', method: 'liu2021', extra: { maxIterations: 3, candidates: 50 }, calib: 32, bits: ALL_BITS },
  { label: 'Liu et al. 2021, mixed precision', method: 'liu2021', extra: { maxIterations: 3, candidates: 50, mixedPrecision: true }, calib: 32, bits: ALL_BITS },
];

interface Row {
  label: string;
  method: string;
  bits: string;
  accuracy: number;
  correct: number;
  count: number;
  overflows: number;
  quantizeSeconds: number;
  evalSeconds: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'reports/ptq' },
      limit: { type: 'string' },
      workers: { type: 'string', default: '2' },
      only: { type: 'string' },
      bits: { type: 'string' },
      resume: { type: 'boolean', default: false },
    },
  });
  const out = values.out as string;
  const workers = Number(values.workers);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  mkdirSync(join(out, 'models'), { recursive: true });

  const { config, params } = loadCheckpoint(MODEL);
  const test = loadDataset('fashion-mnist', 'test', limit);
  const calib = loadCalibrationSet('fashion-mnist', CALIB, SEED);
  const previous: Row[] = values.resume && existsSync(join(out, 'results.json')) ? JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) : [];
  const done = (label: string, bits: string): Row | undefined => previous.find((r) => r.label === label && r.bits === bits && r.count === test.count);
  const rows: Row[] = [];

  // FP32: the float model on the same images.
  const fp32 = done('FP32', 'FP32');
  if (fp32) rows.push(fp32);
  else {
    const t0 = performance.now();
    let correct = 0;
    const batch = 100;
    const size = config.inChans * config.imgSize * config.imgSize;
    for (let i = 0; i < test.count; i += batch) {
      const b = Math.min(batch, test.count - i);
      const images = normaliseImages(config, test.pixels.subarray(i * size, (i + b) * size), b);
      const { logits } = vitForward(config, params, images, b, false);
      for (let j = 0; j < b; j++) if (argmax(logits, j * config.numClasses, config.numClasses) === test.labels[i + j]) correct++;
    }
    rows.push({ label: 'FP32', method: 'float', bits: 'FP32', accuracy: correct / test.count, correct, count: test.count, overflows: 0, quantizeSeconds: 0, evalSeconds: (performance.now() - t0) / 1000 });
    log(rows[rows.length - 1]);
    writeResults(out, rows, test.count, workers);
  }

  const bitsOverride = values.bits?.split(',');
  for (const variant of VARIANTS) {
    for (const bits of bitsOverride ?? variant.bits) {
      if (values.only !== undefined && bits !== values.only) continue;
      const kept = done(variant.label, bits);
      if (kept) {
        rows.push(kept);
        continue;
      }
      const [wbits, abits] = bits.slice(1).split('A').map(Number);
      const t0 = performance.now();
      const images = variant.calib === undefined ? calib : subset(calib, variant.calib);
      const q = quantizeWith(variant.method, config, params, images, { wbits, abits, seed: SEED, extra: variant.extra });
      const quantizeSeconds = (performance.now() - t0) / 1000;
      const name = `${variant.method}${variant.extra ? '-' + Object.entries(variant.extra).map(([k, v]) => `${k}-${v}`).join('-') : ''}-${bits.toLowerCase()}`;
      writeQuantizedModel(join(out, 'models', `${name}.qmodel.safetensors`), q);
      const t1 = performance.now();
      const result = await evaluateInteger(q, test, { workers });
      const evalSeconds = (performance.now() - t1) / 1000;
      let correct = 0;
      for (let i = 0; i < test.count; i++) if (result.predictions[i] === test.labels[i]) correct++;
      rows.push({ label: variant.label, method: variant.method, bits, accuracy: correct / test.count, correct, count: test.count, overflows: result.overflows, quantizeSeconds, evalSeconds });
      log(rows[rows.length - 1]);
      writeResults(out, rows, test.count, workers);
    }
  }

  process.stderr.write(`wrote ${join(out, 'results.md')}\n`);
}

/** Rewrites the three result files with every row so far: a run stopped midway keeps what it measured. */
function writeResults(out: string, rows: readonly Row[], count: number, workers: number): void {
  const columns: Column<Row>[] = [
    { header: 'method', value: (r) => r.label },
    { header: 'bits', value: (r) => r.bits },
    { header: 'top-1 %', value: (r) => (100 * r.accuracy).toFixed(2) },
    { header: 'correct', value: (r) => `${r.correct}/${r.count}` },
    { header: 'saturated accumulators', value: (r) => r.overflows },
    { header: 'quantize s', value: (r) => r.quantizeSeconds.toFixed(1) },
    { header: 'integer eval s', value: (r) => r.evalSeconds.toFixed(1) },
  ];
  writeCsv(join(out, 'results.csv'), rows, columns);
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(rows, null, 2)}\n`);
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
  const command = `npx tsx scripts/ptq-results.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  writeFileSync(
    join(out, 'results.md'),
    [
      `# Post-training quantization of the shipped Fashion-MNIST ViT`,
      '',
      `Made by \`${command}\` at commit ${STARTED_AT} on ${new Date().toISOString()} (${machine}, ${workers} integer-engine workers).`,
      `Model ${MODEL}; calibration: ${CALIB} train images (seed ${SEED}; Liu et al. the first 32 of them), each method using at most its own default count;`,
      `accuracy from the bit-exact integer engine (I-ViT integer softmax/GELU/LayerNorm, 32-bit accumulators) on ${count} test images.`,
      '',
      markdownTable(rows, columns),
      '',
    ].join('\n'),
  );
}

/** The first `count` images of a calibration set (it is already a seeded random draw). */
function subset(set: CalibrationSet, count: number): CalibrationSet {
  const size = set.pixels.length / set.count;
  return { count, pixels: set.pixels.subarray(0, count * size), labels: set.labels.subarray(0, count) };
}

function argmax(x: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[offset + i] > x[offset + best]) best = i;
  return best;
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function log(r: Row): void {
  process.stderr.write(`${r.label.padEnd(36)} ${r.bits.padEnd(5)} ${(100 * r.accuracy).toFixed(2).padStart(6)} %  quantize ${r.quantizeSeconds.toFixed(1)} s  eval ${r.evalSeconds.toFixed(1)} s\n`);
}

await main();
