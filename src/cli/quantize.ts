/**
 * `vitsim quantize --model <ckpt> --method <name> --wbits W --abits A [--calib N] [--seed S]
 *  [--dataset D] [--option key=value …] --out <qmodel>`: calibrates a quantization method on seeded
 * images of the train split and writes the quantized-model file (docs/quant-format.md).
 */
import { readFileSync, statSync } from 'node:fs';
import cliProgress from 'cli-progress';
import type { CommandModule } from 'yargs';
import { UserError, describe } from '../config/errors.js';
import { DATASET_KEY, loadCheckpoint, parseConfigJson } from '../model/checkpoint.js';
import { DATASET_NAMES, IMAGE_SIDE, NUM_CLASSES, type DatasetName } from '../model/datasets.js';
import { loadCalibrationSet } from '../quant/calibration.js';
import { quantizeWith } from '../quant/methods/index.js';
import { writeQuantizedModel } from '../quant/qmodel-file.js';
import { POST_TRAINING_METHODS, type QuantizedViT } from '../quant/spec.js';

export interface QuantizeArgs {
  model: string;
  config?: string;
  method: string;
  wbits: number;
  abits: number;
  calib: number;
  seed: number;
  dataset?: string;
  option?: string[];
  out: string;
  json: boolean;
  quiet: boolean;
}

/** What the command prints (as JSON with --json). */
export interface QuantizeSummary {
  method: string;
  wbits: number;
  abits: number;
  calibration: number;
  dataset: DatasetName;
  ops: number;
  seconds: number;
  out: string;
  bytes: number;
}

export const quantizeCommand: CommandModule<object, QuantizeArgs> = {
  command: 'quantize',
  describe: 'calibrate a post-training quantizer on train images and write a quantized-model file',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'float .safetensors checkpoint' })
      .option('config', { type: 'string', describe: 'JSON model config for a checkpoint without vitsim.config (see docs/checkpoints.md)' })
      .option('method', { type: 'string', demandOption: true, describe: `post-training method: ${POST_TRAINING_METHODS.join(', ')} (QAT methods: vitsim qat)` })
      .option('wbits', { type: 'number', demandOption: true, describe: 'weight bits (2–16)' })
      .option('abits', { type: 'number', demandOption: true, describe: 'activation bits (2–16)' })
      .option('calib', { type: 'number', default: 256, describe: 'calibration images, drawn from the train split' })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the calibration draw and of every random choice of the method' })
      .option('dataset', { type: 'string', choices: DATASET_NAMES, describe: "default: the dataset recorded in the checkpoint's metadata" })
      .option('option', { type: 'string', array: true, describe: 'method option key=value (repeatable), e.g. scale=mse granularity=channel' })
      .option('out', { type: 'string', demandOption: true, describe: 'quantized-model file to write (.safetensors)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress display' }),
  handler: (args) => {
    const summary = runQuantize(args);
    process.stdout.write(
      args.json
        ? `${JSON.stringify(summary)}\n`
        : `${summary.method} W${summary.wbits}A${summary.abits}: ${summary.ops} ops calibrated on ${summary.calibration} ${summary.dataset} train images in ${summary.seconds.toFixed(1)} s → ${summary.out} (${(summary.bytes / 1024).toFixed(1)} KiB)\n`,
    );
  },
};

/** The whole command short of printing. */
export function runQuantize(args: QuantizeArgs): QuantizeSummary {
  checkInt('--wbits', args.wbits, 2, 16);
  checkInt('--abits', args.abits, 2, 16);
  checkInt('--calib', args.calib, 1, Number.MAX_SAFE_INTEGER);
  checkInt('--seed', args.seed, 0, 2 ** 32 - 1);
  const extra = parseOptions(args.option ?? []);
  const override = args.config === undefined ? undefined : parseConfigJson(readText(args.config), args.config);
  const { config, params, metadata } = loadCheckpoint(args.model, { config: override });
  const dataset = datasetOf(args.dataset, metadata[DATASET_KEY], args.model);
  if (config.inChans !== 1 || config.imgSize !== IMAGE_SIDE || config.numClasses < NUM_CLASSES) {
    throw new UserError(`${args.model}: the model takes ${config.inChans}x${config.imgSize}x${config.imgSize} images into ${config.numClasses} classes, ${dataset} has 1x${IMAGE_SIDE}x${IMAGE_SIDE} into ${NUM_CLASSES}`);
  }
  const calib = loadCalibrationSet(dataset, args.calib, args.seed);

  const display = progressDisplay(args.quiet);
  const started = process.hrtime.bigint();
  let q: QuantizedViT;
  try {
    q = quantizeWith(args.method, config, params, calib, { wbits: args.wbits, abits: args.abits, seed: args.seed, extra, progress: display.update });
  } finally {
    display.stop();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  q.options = { ...q.options, dataset, model: args.model };
  writeQuantizedModel(args.out, q);
  return {
    method: q.method, wbits: args.wbits, abits: args.abits, calibration: calib.count, dataset,
    ops: q.ops.size, seconds, out: args.out, bytes: statSync(args.out).size,
  };
}

/** `key=value` pairs → options; numbers and true/false become numbers and booleans. */
export function parseOptions(pairs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UserError(`vitsim quantize: --option must be key=value, got ${describe(pair)}`);
    const key = pair.slice(0, at);
    const text = pair.slice(at + 1);
    if (key in out) throw new UserError(`vitsim quantize: --option ${key} is given twice`);
    out[key] = text === 'true' ? true : text === 'false' ? false : text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  }
  return out;
}

/**
 * On a terminal a redrawn bar; off one (a log, CI) one line per stage at most every 10 s, since the
 * calibration runs synchronously and a timer-driven bar would never get to draw.
 */
function progressDisplay(quiet: boolean): { update: (done: number, total: number, what: string) => void; stop: () => void } {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY !== true) {
    let last = 0;
    return {
      update(done, total, what) {
        const now = Date.now();
        if (now - last < 10_000) return;
        last = now;
        process.stderr.write(`quantize: ${done}/${total} ${what}\n`);
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'quantize {bar} {value}/{total} ops | {what} | {duration_formatted} elapsed', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, what) {
      if (!started) {
        bar.start(total, done, { what });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { what });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function datasetOf(flag: string | undefined, recorded: string | undefined, model: string): DatasetName {
  if (flag !== undefined) return flag as DatasetName;
  if (recorded === undefined) throw new UserError(`vitsim quantize: give --dataset (${DATASET_NAMES.join(' or ')}); ${model} does not record what it was trained on`);
  if (!(DATASET_NAMES as readonly string[]).includes(recorded)) {
    throw new UserError(`${model}: ${DATASET_KEY} must be one of ${DATASET_NAMES.join(', ')}, got ${describe(recorded)}; give --dataset`);
  }
  return recorded as DatasetName;
}

function checkInt(flag: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}…${max}`;
    throw new UserError(`vitsim quantize: ${flag} must be an integer ${range}, got ${describe(value)}`);
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read file (${code === 'ENOENT' ? 'no such file' : code ?? 'unknown error'})`);
  }
}
