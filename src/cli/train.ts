/**
 * `vitsim train --dataset fashion-mnist --out model.safetensors`: trains a ViT from a seed and
 * writes the checkpoint plus `<out>.record.json`, the training record (command, seed, recipe,
 * machine, wall time, per-epoch loss and accuracy, when the target accuracy was first reached).
 *
 * The defaults are the recipe of the shipped workloads/models/vit-fashion-mnist.safetensors.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { availableParallelism, cpus, platform, arch as osArch, totalmem } from 'node:os';
import { dirname } from 'node:path';
import cliProgress from 'cli-progress';
import type { CommandModule } from 'yargs';
import { UserError } from '../config/errors.js';
import { configProblem, type ViTConfig, type ViTParams } from '../model/config.js';
import { saveCheckpoint } from '../model/checkpoint.js';
import { DATASET_NAMES, loadDataset, pixelMeanStd, type DatasetName } from '../model/datasets.js';
import { DEFAULT_ADAM, trainViT, type Augment, type EpochRecord, type TrainOptions, type TrainProgress, type TrainResult } from '../model/train.js';
import { workerEngine } from '../model/train-workers.js';

interface TrainArgs {
  dataset: string;
  out: string;
  seed: number;
  epochs: number;
  'batch-size': number;
  lr: number;
  'min-lr': number;
  'warmup-epochs': number;
  'weight-decay': number;
  augment?: string;
  'crop-padding': number;
  workers: number;
  shards: number;
  limit?: number;
  'test-limit'?: number;
  target: number;
  'patch-size': number;
  'embed-dim': number;
  depth: number;
  heads: number;
  'mlp-ratio': number;
  quiet: boolean;
}

const AUGMENTS: readonly Augment[] = ['none', 'flip', 'crop', 'crop-flip'];

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'train a ViT on Fashion-MNIST or MNIST and write a .safetensors checkpoint with its training record',
  builder: (y) =>
    y
      .option('dataset', { type: 'string', demandOption: true, choices: DATASET_NAMES, describe: 'training data (docs/datasets.md has the splits)' })
      .option('out', { type: 'string', demandOption: true, describe: 'checkpoint to write (.safetensors); the record goes to <out>.record.json' })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the initial weights, the shuffle and the augmentation' })
      .option('epochs', { type: 'number', default: 10 })
      .option('batch-size', { type: 'number', default: 128 })
      .option('lr', { type: 'number', default: 2e-3, describe: 'peak learning rate (AdamW), after the linear warm-up' })
      .option('min-lr', { type: 'number', default: 1e-5, describe: 'learning rate at the end of the cosine decay' })
      .option('warmup-epochs', { type: 'number', default: 1 })
      .option('weight-decay', { type: 'number', default: 0.05, describe: 'decoupled, on weight matrices only (not biases, norms, pos_embed, cls_token)' })
      .option('augment', { type: 'string', choices: AUGMENTS, describe: 'seeded augmentation [default: flip for fashion-mnist, crop for mnist]' })
      .option('crop-padding', { type: 'number', default: 2, describe: 'zero padding (pixels) before the random 28x28 crop' })
      .option('workers', { type: 'number', default: Math.min(availableParallelism(), 4), describe: 'worker threads for the gradients (the weights do not depend on it)' })
      .option('shards', { type: 'number', default: 4, describe: 'gradient shards per batch (the weights do depend on it)' })
      .option('limit', { type: 'number', describe: 'train on the first N images of the train split only (smoke tests)' })
      .option('test-limit', { type: 'number', describe: 'evaluate on the first N images of the test split only' })
      .option('target', { type: 'number', default: 0.88, describe: 'test accuracy whose first epoch and time the record notes' })
      .option('patch-size', { type: 'number', default: 7 })
      .option('embed-dim', { type: 'number', default: 64 })
      .option('depth', { type: 'number', default: 4 })
      .option('heads', { type: 'number', default: 4 })
      .option('mlp-ratio', { type: 'number', default: 2 })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress bar, only the result' }),
  handler: async (args) => {
    const dataset = args.dataset as DatasetName;
    const options = trainOptions(args);
    checkPositiveInt('--workers', args.workers);
    for (const [flag, v] of [['--limit', args.limit], ['--test-limit', args['test-limit']]] as const) {
      if (v !== undefined) checkPositiveInt(flag, v);
    }
    if (!args.out.endsWith('.safetensors')) throw new UserError(`--out must name a .safetensors file, got ${JSON.stringify(args.out)}`);

    const train = loadDataset(dataset, 'train', args.limit);
    const test = loadDataset(dataset, 'test', args['test-limit']);
    if (options.batchSize > train.count) throw new UserError(`--batch-size ${options.batchSize} is larger than the ${train.count} training images`);
    // Normalisation from the images trained on, rounded so the checkpoint's config reads cleanly.
    const { mean, std } = pixelMeanStd(train);
    const config: ViTConfig = {
      imgSize: 28,
      patchSize: args['patch-size'],
      inChans: 1,
      embedDim: args['embed-dim'],
      depth: args.depth,
      numHeads: args.heads,
      mlpRatio: args['mlp-ratio'],
      numClasses: 10,
      mean: [round4(mean)],
      std: [round4(std)],
    };
    const problem = configProblem(config);
    if (problem) throw new UserError(`vitsim train: model options: ${problem}`);

    const startedAt = new Date();
    const gitCommit = sourceVersion();
    const cpu = cpus()[0];
    const reachedTarget = (epochs: EpochRecord[]): EpochRecord | undefined => epochs.find((e) => (e.testAccuracy ?? 0) >= args.target);
    // Written after every epoch (complete: false) and at the end, so a run cut short still leaves
    // its latest weights and an honest record of how far it got.
    const writeOutputs = (params: ViTParams, epochs: EpochRecord[], final?: TrainResult): void => {
      mkdirSync(dirname(args.out), { recursive: true });
      saveCheckpoint(args.out, config, params, { dataset });
      const reached = reachedTarget(epochs);
      const record = {
        command: commandLine(),
        gitCommit,
        complete: final !== undefined,
        dataset,
        split: { train: train.count, test: test.count, skippedRecords: train.skipped },
        seed: options.seed,
        config,
        options,
        workers: args.workers,
        machine: {
          cpu: cpu?.model ?? 'unknown',
          cores: cpus().length,
          memoryGiB: Math.round(totalmem() / 2 ** 30),
          os: `${platform()} ${osArch()}`,
          node: process.version,
        },
        startedAt: startedAt.toISOString(),
        wallSeconds: round2((Date.now() - startedAt.getTime()) / 1000),
        trainSeconds: final ? round2(final.trainSeconds) : null,
        evalSeconds: final ? round2(final.evalSeconds) : null,
        trainImagesPerSecond: final ? round2(final.trainImagesPerSecond) : null,
        evalImagesPerSecond: final?.evalImagesPerSecond === undefined ? null : round2(final.evalImagesPerSecond),
        finalTestAccuracy: epochs[epochs.length - 1]?.testAccuracy ?? null,
        target: { accuracy: args.target, epoch: reached?.epoch ?? null, seconds: reached ? round2(reached.elapsedSeconds) : null },
        epochs: epochs.map(roundEpoch),
      };
      writeAtomically(`${args.out}.record.json`, `${JSON.stringify(record, null, 2)}\n`);
    };

    const show = progressDisplay(args.quiet);
    const engine = workerEngine(config, args.workers);
    const done: EpochRecord[] = [];
    let result: TrainResult;
    try {
      result = await trainViT(config, { train, test }, options, engine, (p) => {
        show.update(p);
        if (p.kind === 'epoch') {
          const { kind: _kind, params, ...record } = p;
          done.push(record);
          writeOutputs(params, done);
        }
      });
    } finally {
      show.stop();
      await engine.close();
    }
    const wallSeconds = (Date.now() - startedAt.getTime()) / 1000;
    writeOutputs(result.params, result.epochs, result);
    const reached = reachedTarget(result.epochs);

    const accuracy = result.testAccuracy === undefined ? 'n/a' : `${(100 * result.testAccuracy).toFixed(2)}%`;
    process.stdout.write(
      `test accuracy ${accuracy} on ${test.count} ${dataset} test images; ${wallSeconds.toFixed(0)} s wall, ` +
        `${result.trainImagesPerSecond.toFixed(0)} training images/s with ${args.workers} worker(s)` +
        (reached ? `; ${(100 * args.target).toFixed(0)}% first reached after epoch ${reached.epoch} (${reached.elapsedSeconds.toFixed(0)} s)` : '') +
        `\nwrote ${args.out} and ${args.out}.record.json\n`,
    );
  },
};

function trainOptions(args: TrainArgs): TrainOptions {
  checkInt('--seed', args.seed, 0);
  checkPositiveInt('--epochs', args.epochs);
  checkPositiveInt('--batch-size', args['batch-size']);
  checkPositiveInt('--shards', args.shards);
  checkInt('--crop-padding', args['crop-padding'], 0);
  for (const [flag, v] of [['--lr', args.lr], ['--min-lr', args['min-lr']], ['--warmup-epochs', args['warmup-epochs']], ['--weight-decay', args['weight-decay']]] as const) {
    if (!(Number.isFinite(v) && v >= 0)) throw new UserError(`${flag} must be a non-negative number, got ${v}`);
  }
  if (args.lr === 0) throw new UserError('--lr must be positive, got 0');
  if (args['warmup-epochs'] > args.epochs) throw new UserError(`--warmup-epochs ${args['warmup-epochs']} exceeds --epochs ${args.epochs}`);
  // Mirrored clothes are still the same clothes; mirrored digits are not digits.
  const augment = (args.augment ?? (args.dataset === 'mnist' ? 'crop' : 'flip')) as Augment;
  return {
    seed: args.seed,
    epochs: args.epochs,
    batchSize: args['batch-size'],
    lr: args.lr,
    minLr: args['min-lr'],
    warmupEpochs: args['warmup-epochs'],
    weightDecay: args['weight-decay'],
    ...DEFAULT_ADAM,
    augment,
    cropPadding: args['crop-padding'],
    shards: args.shards,
  };
}

/** A progress bar on stderr (loss, images/s, ETA) and one line per epoch; a line every 15 s when not on a terminal. */
function progressDisplay(quiet: boolean): { update: (p: TrainProgress) => void; stop: () => void } {
  if (quiet) return { update: () => {}, stop: () => {} };
  const bars = new cliProgress.MultiBar(
    {
      format: 'epoch {epoch} {bar} {percentage}% | loss {loss} | {ips} img/s | lr {lr} | ETA {eta_formatted}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 15_000,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  let smoothLoss: number | undefined;
  return {
    update(p) {
      if (p.kind === 'step') {
        smoothLoss = smoothLoss === undefined ? p.loss : 0.95 * smoothLoss + 0.05 * p.loss;
        const payload = { epoch: p.epoch, loss: smoothLoss.toFixed(4), ips: p.imagesPerSecond.toFixed(0), lr: p.lr.toExponential(2) };
        if (!bar) bar = bars.create(p.totalSteps, 0, payload);
        bar.update(p.step, payload);
      } else if (p.kind === 'epoch') {
        const test = p.testAccuracy === undefined ? '' : `, test accuracy ${(100 * p.testAccuracy).toFixed(2)}%`;
        bars.log(`epoch ${p.epoch}: train loss ${p.trainLoss.toFixed(4)}, train accuracy ${(100 * p.trainAccuracy).toFixed(2)}%${test}, ${p.elapsedSeconds.toFixed(0)} s\n`);
      }
    },
    stop() {
      bars.stop();
    },
  };
}

/** The commit the code was built from, `+dirty` when the working tree has changes (null outside git). */
function sourceVersion(): string | null {
  try {
    const run = (args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = run(['rev-parse', 'HEAD']);
    return run(['status', '--porcelain', '--untracked-files=no']) === '' ? head : `${head}+dirty`;
  } catch {
    return null;
  }
}

function commandLine(): string {
  const args = process.argv.slice(2).map((a) => (/^[\w./=:,-]+$/.test(a) ? a : JSON.stringify(a)));
  return ['vitsim', ...args].join(' ');
}

function checkInt(flag: string, v: number, min: number): void {
  if (!(Number.isInteger(v) && v >= min)) throw new UserError(`${flag} must be an integer >= ${min}, got ${v}`);
}

function checkPositiveInt(flag: string, v: number): void {
  checkInt(flag, v, 1);
}

function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function roundEpoch(e: EpochRecord): EpochRecord {
  return { ...e, trainLoss: Math.round(e.trainLoss * 1e5) / 1e5, elapsedSeconds: round2(e.elapsedSeconds) };
}
