/**
 * `vitsim eval --model <file> [--quant <qmodel> --engine float|fakequant|integer] --dataset fashion-mnist
 *  --split test [--limit N] [--json] [--logits out.csv]`: top-1 accuracy of a float checkpoint, or of
 * its quantized model (fake-quant in float, or the bit-exact integer engine), on a dataset split,
 * optionally with every image's logits.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import { stringify } from 'csv-stringify/sync';
import type { CommandModule } from 'yargs';
import { UserError, describe } from '../config/errors.js';
import { DATASET_KEY, loadCheckpoint, parseConfigJson } from '../model/checkpoint.js';
import type { ViTConfig, ViTParams } from '../model/config.js';
import { DATASET_NAMES, IMAGE_SIDE, loadDataset, NUM_CLASSES, type DatasetName, type ImageSet, type Split } from '../model/datasets.js';
import { normaliseImages, vitForward } from '../model/vit.js';
import { AccumulatorOverflow, DEFAULT_ACC_BITS, MAX_ACC_BITS, type OverflowMode } from '../integer/accumulator.js';
import type { NonlinearSet } from '../integer/compile.js';
import { evaluateInteger } from '../integer/evaluate.js';
import { fakeQuantForward } from '../quant/fakequant.js';
import { readQuantizedModel } from '../quant/qmodel-file.js';
import type { QuantizedViT } from '../quant/spec.js';

export type Engine = 'float' | 'fakequant' | 'integer';
export const ENGINES: readonly Engine[] = ['float', 'fakequant', 'integer'];

export interface EvalArgs {
  model: string;
  config?: string;
  dataset?: string;
  split: Split;
  limit?: number;
  batch: number;
  json: boolean;
  logits?: string;
  quant?: string;
  engine?: Engine;
  /** Integer engine only: worker threads, accumulator width, what an overflow does, integer nonlinears. */
  workers?: number;
  accBits?: number;
  overflow?: OverflowMode;
  nonlinear?: NonlinearSet;
}

/** What `--json` prints; `engine` and `quant` only when a quantized model was given. */
export interface EvalReport {
  dataset: DatasetName;
  split: Split;
  engine?: Engine;
  quant?: string;
  /** Accumulator overflows the integer engine saturated. */
  overflows?: number;
  count: number;
  correct: number;
  accuracy: number;
}

/** Runs this many images or more and the progress goes to stderr even when it is not a terminal (a log). */
const LONG_RUN_IMAGES = 2000;

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: 'top-1 accuracy of a checkpoint on a dataset split',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'a .safetensors checkpoint (timm names)' })
      .option('config', { type: 'string', describe: 'JSON model config for a checkpoint without vitsim.config (see docs/checkpoints.md)' })
      .option('dataset', { type: 'string', choices: DATASET_NAMES, describe: "default: the dataset recorded in the checkpoint's metadata" })
      .option('split', { type: 'string', choices: ['train', 'test'] as const, default: 'test' as Split })
      .option('limit', { type: 'number', describe: 'evaluate only the first N images of the split' })
      .option('batch', { type: 'number', default: 50, describe: 'images per forward pass' })
      .option('json', { type: 'boolean', default: false, describe: 'print {dataset, split, count, correct, accuracy} as JSON' })
      .option('logits', { type: 'string', describe: 'write index,label,pred,logit_0,… per image to this CSV file' })
      .option('quant', { type: 'string', describe: 'quantized-model file made by vitsim quantize from this checkpoint' })
      .option('engine', { type: 'string', choices: ENGINES, describe: 'float model, fake-quant (float with quantize-dequantize) or the integer engine [default: fakequant with --quant, else float]' })
      .option('workers', { type: 'number', default: 1, describe: 'integer engine: worker threads (the result does not depend on it)' })
      .option('acc-bits', { type: 'number', default: DEFAULT_ACC_BITS, describe: `integer engine: accumulator width in bits (2 … ${MAX_ACC_BITS})` })
      .option('overflow', { type: 'string', choices: ['saturate', 'error'] as const, default: 'saturate' as OverflowMode, describe: 'integer engine: an accumulator result outside its width saturates (and is counted) or stops the run' })
      .option('nonlinear', { type: 'string', choices: ['ivit', 'ibert'] as const, default: 'ivit' as NonlinearSet, describe: 'integer engine: I-ViT shift-based or I-BERT polynomial softmax/GELU' }),
  handler: async (args) => {
    const report = await runEval(args);
    process.stdout.write(
      args.json
        ? `${JSON.stringify(report)}\n`
        : `${report.dataset} ${report.split}${report.engine === undefined ? '' : ` (${report.engine})`}: ${report.correct}/${report.count} correct, top-1 accuracy ${(100 * report.accuracy).toFixed(2)}%\n`,
    );
  },
};

/** The whole command short of printing, so other commands (quantize, later) can reuse the steps. */
export async function runEval(args: EvalArgs): Promise<EvalReport> {
  checkCount('--batch', args.batch, 1);
  if (args.limit !== undefined) checkCount('--limit', args.limit, 1);
  const override = args.config === undefined ? undefined : parseConfigJson(readText(args.config), args.config);
  const { config, params, metadata } = loadCheckpoint(args.model, { config: override });
  const dataset = datasetOf(args.dataset, metadata[DATASET_KEY], args.model);
  checkFits(config, dataset, args.model);
  const engine = args.engine ?? (args.quant === undefined ? 'float' : 'fakequant');
  if (engine !== 'float' && args.quant === undefined) throw new UserError(`vitsim eval: --engine ${engine} needs --quant <qmodel>`);
  const quantized = engine === 'float' || args.quant === undefined ? undefined : readQuantizedModel(args.quant);
  if (quantized) checkSameModel(config, quantized.config, args.model, args.quant as string);
  const set = loadDataset(dataset, args.split, args.limit);

  const classes = config.numClasses;
  let logits: Float32Array | undefined;
  let preds: Uint16Array;
  let overflows: number | undefined;
  if (engine === 'integer') {
    checkCount('--workers', args.workers ?? 1, 1);
    const accBits = args.accBits ?? DEFAULT_ACC_BITS;
    if (!(Number.isInteger(accBits) && accBits >= 2 && accBits <= MAX_ACC_BITS)) {
      throw new UserError(`vitsim eval: --acc-bits must be an integer from 2 to ${MAX_ACC_BITS}, got ${describe(accBits)}`);
    }
    const result = await evaluateInteger(quantized as QuantizedViT, set, {
      batch: args.batch, logits: args.logits !== undefined, workers: args.workers, accBits, overflow: args.overflow, nonlinear: args.nonlinear,
    }).catch((err: unknown) => {
      // With --overflow error a result outside the accumulator is the answer the user asked for, not a bug
      // (a worker reports it as a plain message, hence the test on the text too).
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof AccumulatorOverflow || /accumulator result .* does not fit \d+ bits/.test(message)) {
        throw new UserError(`vitsim eval --overflow error: ${message.split('\n')[0]} (--acc-bits ${accBits})`);
      }
      throw err;
    });
    ({ logits, overflows } = result);
    preds = Uint16Array.from(result.predictions);
  } else {
    logits = quantized ? await classifyFakeQuant(quantized, set, args.batch) : await classify(config, params, set, args.batch);
    preds = new Uint16Array(set.count);
    for (let i = 0; i < set.count; i++) preds[i] = argmax(logits.subarray(i * classes, (i + 1) * classes));
  }
  let correct = 0;
  for (let i = 0; i < set.count; i++) if (preds[i] === set.labels[i]) correct++;
  if (args.logits !== undefined) {
    if (!logits) throw new Error(`the ${engine} engine returned no logits although --logits asked for them`);
    writeLogits(args.logits, set, preds, logits, classes);
  }
  const which = args.quant === undefined ? {} : { engine, quant: args.quant, ...(overflows === undefined ? {} : { overflows }) };
  return { dataset, split: args.split, ...which, count: set.count, correct, accuracy: set.count === 0 ? 0 : correct / set.count };
}

/** A quantized model made from another checkpoint would evaluate something else than asked. */
function checkSameModel(model: ViTConfig, quant: ViTConfig, modelFile: string, quantFile: string): void {
  const differs = (Object.keys(model) as (keyof ViTConfig)[]).find((key) => JSON.stringify(model[key]) !== JSON.stringify(quant[key]));
  if (differs !== undefined) {
    throw new UserError(`${quantFile}: its config has ${differs} ${describe(quant[differs])}, ${modelFile} has ${describe(model[differs])}; quantize this checkpoint with vitsim quantize`);
  }
}

/**
 * The bit-exact integer engine: src/integer/evaluate.ts's evaluateInteger(q, set, { batch, logits }),
 * which is being written; until it is wired here the engine is refused with one line.
 */
/** [count, numClasses] logits of the fake-quantized model, a batch at a time, from raw pixels. */
async function classifyFakeQuant(q: QuantizedViT, set: ImageSet, batch: number): Promise<Float32Array> {
  const imageSize = set.channels * set.height * set.width;
  const logits = new Float32Array(set.count * q.config.numClasses);
  const bar = progressBar(set.count);
  for (let start = 0; start < set.count; start += batch) {
    const b = Math.min(batch, set.count - start);
    logits.set(fakeQuantForward(q, set.pixels.subarray(start * imageSize, (start + b) * imageSize), b), start * q.config.numClasses);
    bar?.update(start + b);
    if (bar) await yieldToEventLoop();
  }
  bar?.stop();
  return logits;
}

/** [count, numClasses] logits of the float model for every image of the set, a batch at a time. */
async function classify(config: ViTConfig, params: ViTParams, set: ImageSet, batch: number): Promise<Float32Array> {
  const imageSize = set.channels * set.height * set.width;
  const logits = new Float32Array(set.count * config.numClasses);
  const bar = progressBar(set.count);
  for (let start = 0; start < set.count; start += batch) {
    const b = Math.min(batch, set.count - start);
    const images = normaliseImages(config, set.pixels.subarray(start * imageSize, (start + b) * imageSize), b);
    logits.set(vitForward(config, params, images, b, false).logits, start * config.numClasses);
    bar?.update(start + b);
    // Off a terminal the bar redraws only from a timer, which needs the event loop between batches.
    if (bar) await yieldToEventLoop();
  }
  bar?.stop();
  return logits;
}

function progressBar(total: number): cliProgress.SingleBar | undefined {
  const tty = process.stderr.isTTY === true;
  if (!tty && total < LONG_RUN_IMAGES) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'eval {bar} {value}/{total} images | {duration_formatted} elapsed, ETA {eta_formatted}',
      // Off a terminal (a log file, CI), one plain line every 10 s instead of a redrawn bar.
      noTTYOutput: !tty,
      notTTYSchedule: 10_000,
      hideCursor: tty,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return bar;
}

/** The dataset named by the flag, else the one the checkpoint was trained on. */
function datasetOf(flag: string | undefined, recorded: string | undefined, model: string): DatasetName {
  if (flag !== undefined) return flag as DatasetName;
  if (recorded === undefined) throw new UserError(`vitsim eval: give --dataset (${DATASET_NAMES.join(' or ')}); ${model} does not record what it was trained on`);
  if (!(DATASET_NAMES as readonly string[]).includes(recorded)) {
    throw new UserError(`${model}: ${DATASET_KEY} must be one of ${DATASET_NAMES.join(', ')}, got ${describe(recorded)}; give --dataset`);
  }
  return recorded as DatasetName;
}

/** Checked before the images are read: both datasets hold 1x28x28 images of 10 classes. */
function checkFits(config: ViTConfig, dataset: DatasetName, model: string): void {
  if (config.inChans !== 1 || config.imgSize !== IMAGE_SIDE) {
    throw new UserError(`${model}: the model takes ${config.inChans}x${config.imgSize}x${config.imgSize} images, ${dataset} has 1x${IMAGE_SIDE}x${IMAGE_SIDE}`);
  }
  if (config.numClasses < NUM_CLASSES) throw new UserError(`${model}: the model has ${config.numClasses} classes, ${dataset} has ${NUM_CLASSES}`);
}

function writeLogits(file: string, set: ImageSet, preds: Uint16Array, logits: Float32Array, classes: number): void {
  const header = ['index', 'label', 'pred', ...Array.from({ length: classes }, (_, c) => `logit_${c}`)];
  const rows: (number | string)[][] = [header];
  // A limited run evaluates the split's first images, so row i is image i of the split.
  for (let i = 0; i < set.count; i++) rows.push([i, set.labels[i], preds[i], ...logits.subarray(i * classes, (i + 1) * classes)]);
  try {
    writeFileSync(file, stringify(rows));
  } catch (err) {
    throw new UserError(`${file}: cannot write file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Index of the largest logit; the first one on ties, like torch.argmax. */
function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function checkCount(flag: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new UserError(`vitsim eval: ${flag} must be an integer >= ${min}, got ${value}`);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read file (${code === 'ENOENT' ? 'no such file' : code ?? 'unknown error'})`);
  }
}
