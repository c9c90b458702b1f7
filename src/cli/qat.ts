/**
 * `vitsim qat --model <ckpt> --method n2uq|ofq|lsq --wbits W --abits A --epochs E [--train-limit N]
 *  [--seed S] --out <qmodel>`: quantization-aware fine-tuning from a float checkpoint on the
 * Fashion-MNIST train split (or its first N images, class-balanced), writing the same quantized-model
 * file as the post-training methods, plus `<out>.record.json` (command, recipe, time, oscillation and
 * the test accuracy of the integer engine and of fake-quant). Deterministic for a seed. `--qkr` adds
 * OFQ's query–key reparameterisation.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import cliProgress from 'cli-progress';
import type { CommandModule } from 'yargs';
import { UserError, describe } from '../config/errors.js';
import { compileProgram } from '../integer/compile.js';
import { integerForward } from '../integer/engine.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { loadDataset, type ImageSet } from '../model/datasets.js';
import { fakeQuantLogits } from '../quant/fakequant.js';
import { QAT_METHODS, type QatMethod } from '../quant/qat/model.js';
import { runQat } from '../quant/qat/run.js';
import { QAT_DEFAULTS, type QatStepProgress } from '../quant/qat/train.js';
import { writeQuantizedModel } from '../quant/qmodel-file.js';
import type { QuantizedViT } from '../quant/spec.js';

interface QatArgs {
  model: string;
  method: string;
  wbits: number;
  abits: number;
  epochs: number;
  'train-limit'?: number;
  seed: number;
  out: string;
  'batch-size': number;
  lr: number;
  'min-lr': number;
  cga: boolean;
  'cga-fraction': number;
  'boundary-range': number;
  qkr: boolean;
  'test-limit'?: number;
  eval: boolean;
  json: boolean;
  quiet: boolean;
}

export const qatCommand: CommandModule<object, QatArgs> = {
  command: 'qat',
  describe: 'quantization-aware fine-tuning (N2UQ, OFQ, LSQ) of a float checkpoint into a quantized-model file',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'float .safetensors checkpoint to start from' })
      .option('method', { type: 'string', demandOption: true, choices: QAT_METHODS, describe: 'n2uq, ofq or lsq (docs/qat.md)' })
      .option('wbits', { type: 'number', demandOption: true, describe: 'weight bits of the transformer blocks (patch embedding and head stay at 8)' })
      .option('abits', { type: 'number', demandOption: true, describe: 'activation bits of the transformer blocks (head input stays at 8)' })
      .option('epochs', { type: 'number', default: QAT_DEFAULTS.epochs })
      .option('train-limit', { type: 'number', describe: 'fine-tune on the first N images of the train split (class-balanced prefix)' })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the shuffle and the flips' })
      .option('out', { type: 'string', demandOption: true, describe: 'quantized-model file to write (.safetensors); the record goes to <out>.record.json' })
      .option('batch-size', { type: 'number', default: QAT_DEFAULTS.batchSize })
      .option('lr', { type: 'number', default: QAT_DEFAULTS.lr, describe: 'peak AdamW learning rate (weights and quantizer parameters)' })
      .option('min-lr', { type: 'number', default: QAT_DEFAULTS.minLr, describe: 'the floor the cosine reaches (and OFQ\'s CGA window runs at)' })
      .option('cga', { type: 'boolean', default: true, describe: 'OFQ: freeze confident weights in the last --cga-fraction of the steps (--no-cga keeps the schedule, no freezing)' })
      .option('cga-fraction', { type: 'number', default: QAT_DEFAULTS.cgaFraction, describe: 'OFQ: fraction of the steps in the CGA window' })
      .option('boundary-range', { type: 'number', default: QAT_DEFAULTS.boundaryRange, describe: 'OFQ: CGA band around a rounding threshold, in steps' })
      .option('qkr', {
        type: 'boolean', default: false,
        describe: "OFQ: query–key reparameterisation — per-head W_qk = W_qᵀ·W_k replaces q and k, also at inference (scores' MACs grow 2–4×, docs/qat.md)",
      })
      .option('test-limit', { type: 'number', describe: 'evaluate on the first N test images only' })
      .option('eval', { type: 'boolean', default: true, describe: 'evaluate the result on the test split (integer engine and fake-quant)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the record as JSON' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' }),
  handler: async (args) => {
    const method = args.method as QatMethod;
    for (const [flag, v] of [['--train-limit', args['train-limit']], ['--test-limit', args['test-limit']]] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new UserError(`${flag} must be a positive integer, got ${describe(v)}`);
    }
    if (!args.out.endsWith('.safetensors')) throw new UserError(`--out must name a .safetensors file, got ${JSON.stringify(args.out)}`);
    if (method !== 'ofq' && args.cga === false) throw new UserError(`--no-cga applies to --method ofq only, got --method ${method}`);
    if (method !== 'ofq' && args.qkr) throw new UserError(`--qkr applies to --method ofq only, got --method ${method}`);
    const { config, params } = loadCheckpoint(args.model);
    const train = loadDataset('fashion-mnist', 'train', args['train-limit']);
    if (args['batch-size'] > train.count) throw new UserError(`--batch-size ${args['batch-size']} is larger than the ${train.count} training images`);

    const startedAt = new Date();
    const show = progress(args.quiet);
    const extra: Record<string, unknown> = {
      epochs: args.epochs, batchSize: args['batch-size'], lr: args.lr, minLr: args['min-lr'],
      ...(method === 'ofq' ? { cga: args.cga, cgaFraction: args['cga-fraction'], boundaryRange: args['boundary-range'], qkr: args.qkr } : {}),
    };
    const run = runQat(method, config, params, train, { wbits: args.wbits, abits: args.abits, seed: args.seed, extra }, show.update);
    show.stop();
    mkdirSync(dirname(args.out), { recursive: true });
    writeQuantizedModel(args.out, run.quantized);

    let evaluation: Record<string, unknown> | null = null;
    if (args.eval) {
      const test = loadDataset('fashion-mnist', 'test', args['test-limit']);
      const evalStart = performance.now();
      const integer = integerAccuracy(run.quantized, test);
      const integerSeconds = (performance.now() - evalStart) / 1000;
      const fake = accuracyOf(fakeQuantLogits(run.quantized, test.pixels, test.count), test);
      evaluation = { testImages: test.count, integerAccuracy: integer.accuracy, integerOverflows: integer.overflows, fakeQuantAccuracy: fake, integerSeconds: round2(integerSeconds) };
    }
    const record = {
      command: ['vitsim', ...process.argv.slice(2)].join(' '),
      gitCommit: sourceVersion(),
      model: args.model,
      method,
      wbits: args.wbits,
      abits: args.abits,
      trainImages: train.count,
      options: run.options,
      steps: run.result.totalSteps,
      trainSeconds: round2(run.result.trainSeconds),
      wallSeconds: round2((Date.now() - startedAt.getTime()) / 1000),
      startedAt: startedAt.toISOString(),
      cpu: cpus()[0]?.model ?? 'unknown',
      trainAccuracy: run.result.trainAccuracy,
      finalLoss: run.result.finalLoss,
      oscillation: run.result.oscillation,
      frozenFraction: run.result.frozenFraction,
      evaluation,
    };
    writeFileSync(`${args.out}.record.json.tmp`, `${JSON.stringify(record, null, 2)}\n`);
    renameSync(`${args.out}.record.json.tmp`, `${args.out}.record.json`);
    if (args.json) {
      process.stdout.write(`${JSON.stringify(record)}\n`);
    } else {
      const acc = evaluation
        ? `; test accuracy ${pct(evaluation.integerAccuracy as number)} (integer engine), ${pct(evaluation.fakeQuantAccuracy as number)} (fake-quant) on ${evaluation.testImages as number} images`
        : '';
      process.stdout.write(`${method}${args.qkr ? ' (QKR)' : ''} W${args.wbits}A${args.abits}: ${run.result.totalSteps} steps in ${record.trainSeconds} s${acc}; wrote ${args.out}\n`);
    }
  },
};

/** Top-1 accuracy of the integer engine, 100 images per pass. */
function integerAccuracy(q: QuantizedViT, set: ImageSet): { accuracy: number; overflows: number } {
  const program = compileProgram(q);
  const imageSize = set.channels * set.height * set.width;
  const logits = new Float32Array(set.count * q.config.numClasses);
  let overflows = 0;
  for (let from = 0; from < set.count; from += 100) {
    const n = Math.min(100, set.count - from);
    const r = integerForward(program, set.pixels.subarray(from * imageSize, (from + n) * imageSize), n);
    logits.set(r.logits, from * q.config.numClasses);
    overflows += r.overflows;
  }
  return { accuracy: accuracyOf(logits, set), overflows };
}

function accuracyOf(logits: Float32Array, set: ImageSet): number {
  const k = logits.length / set.count;
  let correct = 0;
  for (let i = 0; i < set.count; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    if (best === set.labels[i]) correct++;
  }
  return correct / set.count;
}

/**
 * The training loop is synchronous, so the bar is drawn on each update (a terminal), or a plain line
 * is logged every 5 % of the steps (a log file).
 */
function progress(quiet: boolean): { update: (p: QatStepProgress) => void; stop: () => void } {
  if (quiet) return { update: () => {}, stop: () => {} };
  let smoothLoss: number | undefined;
  let smoothAcc: number | undefined;
  if (!process.stderr.isTTY) {
    let lastLogged = 0;
    return {
      update(p) {
        smoothLoss = smoothLoss === undefined ? p.loss : 0.9 * smoothLoss + 0.1 * p.loss;
        smoothAcc = smoothAcc === undefined ? p.accuracy : 0.9 * smoothAcc + 0.1 * p.accuracy;
        if (p.step === p.totalSteps || p.step - lastLogged >= Math.max(1, Math.round(p.totalSteps / 20))) {
          lastLogged = p.step;
          process.stderr.write(`step ${p.step}/${p.totalSteps} epoch ${p.epoch} loss ${smoothLoss.toFixed(4)} acc ${pct(smoothAcc)} lr ${p.lr.toExponential(2)}${p.annealing ? ' CGA' : ''} ${p.elapsedSeconds.toFixed(0)} s\n`);
        }
      },
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: 'qat {bar} {percentage}% | epoch {epoch} | loss {loss} | acc {acc} | lr {lr}{cga} | ETA {eta_formatted}', hideCursor: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      smoothLoss = smoothLoss === undefined ? p.loss : 0.9 * smoothLoss + 0.1 * p.loss;
      smoothAcc = smoothAcc === undefined ? p.accuracy : 0.9 * smoothAcc + 0.1 * p.accuracy;
      const payload = { epoch: p.epoch, loss: smoothLoss.toFixed(4), acc: pct(smoothAcc), lr: p.lr.toExponential(2), cga: p.annealing ? ' | CGA' : '' };
      if (!started) {
        bar.start(p.totalSteps, 0, payload);
        started = true;
      }
      bar.update(p.step, payload);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function pct(v: number): string {
  return `${(100 * v).toFixed(2)}%`;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** The commit the code was built from, `+dirty` when the working tree has changes (null outside git). */
function sourceVersion(): string | null {
  try {
    const run = (a: string[]): string => execFileSync('git', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = run(['rev-parse', 'HEAD']);
    return run(['status', '--porcelain', '--untracked-files=no']) === '' ? head : `${head}+dirty`;
  } catch {
    return null;
  }
}
