/**
 * Measured accuracy: the chosen method quantizes the workload's shipped checkpoint on `calibration`
 * train images, and the integer engine classifies the first `images` test images. A measurement
 * depends only on (checkpoint, method, widths, mixed, images, calibration, seed), so it is cached
 * under that key in a cache directory, one JSON file per key, written whole (temporary file, then
 * rename) so concurrent workers and killed runs never leave half a file.
 *
 * The quantizers and the integer engine are imported only when a measurement is needed, so a sweep
 * with literature accuracy (and the tests, with an injected engine) never loads them.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../config/errors.js';
import { loadWorkload } from '../trace/workload.js';
import type { AccuracyLookup, AccuracyValue } from './accuracy-lookup.js';
import type { PointQuant } from './design.js';
import type { SweepSpec } from './spec.js';

/** What one measurement needs besides the quantisation. */
export interface MeasurementSetup {
  /** Absolute path of the checkpoint. */
  checkpoint: string;
  images: number;
  calibration: number;
  seed: number;
}

/** Quantizes and evaluates; returns top-1 in percent. */
export type MeasureEngine = (quant: PointQuant, setup: MeasurementSetup) => Promise<number>;

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The measured source of a sweep; `engine` replaces the quantizers and integer engine (tests). */
export function measuredAccuracy(
  spec: SweepSpec,
  options: { images: number; calibration: number; seed: number; cacheDir?: string },
  cacheDir: string | undefined,
  engine: MeasureEngine = integerEngine,
): AccuracyLookup {
  const workload = loadWorkload(spec.workload);
  if (workload.checkpoint === undefined) {
    throw new UserError(`${spec.name}: accuracy.source measured needs a workload with a shipped checkpoint; ${workload.name} has none (use literature)`);
  }
  const setup: MeasurementSetup = { checkpoint: resolve(PACKAGE_ROOT, workload.checkpoint), images: options.images, calibration: options.calibration, seed: options.seed };
  const dir = options.cacheDir ?? cacheDir;
  const pending = new Map<string, Promise<AccuracyValue>>();

  return (quant) => {
    const key = measurementKey(quant, setup);
    let value = pending.get(key);
    if (value === undefined) {
      value = cachedOrMeasured(key, quant, setup, dir, engine);
      pending.set(key, value);
    }
    return value;
  };
}

async function cachedOrMeasured(key: string, quant: PointQuant, setup: MeasurementSetup, dir: string | undefined, engine: MeasureEngine): Promise<AccuracyValue> {
  const file = dir === undefined ? undefined : join(dir, `${key}.json`);
  if (file !== undefined && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as AccuracyValue;
  const top1 = await engine(quant, setup);
  const value: AccuracyValue = {
    top1,
    source: `measured: integer engine, ${quant.method} W${quant.wbits}A${quant.abits}${quant.mixed ? ' mixed' : ''}, ${setup.images} test images, ${setup.calibration} calibration images, seed ${setup.seed} (cache ${key})`,
  };
  if (file !== undefined && dir !== undefined) {
    mkdirSync(dir, { recursive: true });
    const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(value)}\n`);
    renameSync(temporary, file);
  }
  return value;
}

/** The cache key: a hash of everything the measurement depends on. */
export function measurementKey(quant: PointQuant, setup: MeasurementSetup): string {
  const what = JSON.stringify([setup.checkpoint, quant.method, quant.wbits, quant.abits, quant.mixed, setup.images, setup.calibration, setup.seed]);
  return createHash('sha256').update(what).digest('hex').slice(0, 16);
}

/** The real engine: quantizeWith (src/quant/methods) and evaluateInteger (src/integer/evaluate.ts). */
async function integerEngine(quant: PointQuant, setup: MeasurementSetup): Promise<number> {
  const { QUANT_METHODS } = await import('../quant/spec.js');
  if (!(QUANT_METHODS as readonly string[]).includes(quant.method)) {
    throw new UserError(`quant.method ${quant.method} exists only in the literature tables; measured accuracy needs one of ${QUANT_METHODS.join(', ')}`);
  }
  const { loadCheckpoint, DATASET_KEY } = await import('../model/checkpoint.js');
  const { loadDataset } = await import('../model/datasets.js');
  const { quantizeWith } = await import('../quant/methods/index.js');
  const { evaluateInteger } = await import('../integer/evaluate.js');
  const { config, params, metadata } = loadCheckpoint(setup.checkpoint);
  const dataset = (metadata[DATASET_KEY] ?? 'fashion-mnist') as 'fashion-mnist' | 'mnist';
  const calib = loadDataset(dataset, 'train', setup.calibration);
  const test = loadDataset(dataset, 'test', setup.images);
  const q = quantizeWith(quant.method, config, params, calib, {
    wbits: quant.wbits,
    abits: quant.abits,
    seed: setup.seed,
    // Liu et al.'s method reads its budget from wbits/abits and allocates per-module widths.
    ...(quant.mixed ? { extra: { mixedPrecision: true } } : {}),
  });
  const { predictions } = await evaluateInteger(q, test);
  let correct = 0;
  for (let i = 0; i < test.count; i++) if (predictions[i] === test.labels[i]) correct++;
  return (100 * correct) / test.count;
}
