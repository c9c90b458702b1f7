/**
 * Integer inference of a whole image set on worker threads: the program is compiled once here, each
 * worker runs integerForward on a contiguous slice of the images, and the slices are put back in
 * order. Every image's logits depend only on the image (engine.ts), and the overflow counts and
 * operand tallies are sums of integers, so the result is the same bits whatever the worker count
 * and batch size.
 *
 * The worker runs worker.js next to this file: from dist/ that is the compiled entry; when this
 * module runs as TypeScript (tsx, the benchmarks, tests), worker.ts is loaded through tsx's API,
 * exactly as src/model/train-workers.ts does.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { QuantizedViT } from '../quant/spec.js';
import type { OverflowMode } from './accumulator.js';
import { compileProgram, type IntegerProgram, type NonlinearSet } from './compile.js';
import { integerForward, type OperandTallies } from './engine.js';

export interface IntegerEvalOptions {
  /** Worker threads (default 1: in this thread). */
  workers?: number;
  /** Images per integerForward call (default 50; does not change the result). */
  batch?: number;
  accBits?: number;
  overflow?: OverflowMode;
  nonlinear?: NonlinearSet;
  /** Return the logits too. */
  logits?: boolean;
  /** Return the operand tallies of every GEMM (for the trace's statistics). */
  stats?: boolean;
}

export interface IntegerEvalResult {
  /** [count] argmax of each image's logits (the lowest class index on a tie). */
  predictions: Uint8Array;
  /** [count, numClasses], when asked for. */
  logits?: Float32Array;
  /** Accumulator results that saturated, over all images. */
  overflows: number;
  stats?: OperandTallies;
}

/** Messages to and from a worker. */
export interface WorkerJob {
  id: number;
  pixels: Float32Array;
  count: number;
  batch: number;
  stats: boolean;
}

export type WorkerReply =
  | { id: number; kind: 'done'; logits: Float32Array; overflows: number; stats?: OperandTallies }
  | { id: number; kind: 'error'; message: string; stack?: string };

export async function evaluateInteger(
  q: QuantizedViT, images: { count: number; pixels: Float32Array }, options: IntegerEvalOptions = {},
): Promise<IntegerEvalResult> {
  const workers = options.workers ?? 1;
  const batch = options.batch ?? 50;
  if (!(Number.isInteger(workers) && workers >= 1)) throw new RangeError(`workers must be a positive integer, got ${workers}`);
  if (!(Number.isInteger(batch) && batch >= 1)) throw new RangeError(`batch must be a positive integer, got ${batch}`);
  const program = compileProgram(q, {
    ...(options.accBits === undefined ? {} : { accBits: options.accBits }),
    ...(options.overflow === undefined ? {} : { overflow: options.overflow }),
    ...(options.nonlinear === undefined ? {} : { nonlinear: options.nonlinear }),
  });
  const { count } = images;
  const imageSize = q.config.inChans * q.config.imgSize ** 2;
  const classes = q.config.numClasses;
  const stats = options.stats === true;
  const chunks = Array.from({ length: workers }, (_, w) => [Math.floor((w * count) / workers), Math.floor(((w + 1) * count) / workers)] as const);
  const jobs = chunks.map(([from, to], id): WorkerJob => ({ id, pixels: images.pixels.subarray(from * imageSize, to * imageSize), count: to - from, batch, stats }));

  let parts: Extract<WorkerReply, { kind: 'done' }>[];
  if (workers === 1) {
    parts = [runJob(program, jobs[0])];
  } else {
    parts = await Promise.all(jobs.map((job) => (job.count === 0 ? Promise.resolve(emptyReply(job.id)) : runInWorker(program, { ...job, pixels: job.pixels.slice() }))));
  }

  const logits = new Float32Array(count * classes);
  let overflows = 0;
  const merged: OperandTallies = new Map();
  parts.forEach((part, w) => {
    logits.set(part.logits, chunks[w][0] * classes);
    overflows += part.overflows;
    if (part.stats) mergeTallies(merged, part.stats);
  });
  const predictions = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    predictions[i] = best;
  }
  return { predictions, overflows, ...(options.logits ? { logits } : {}), ...(stats ? { stats: merged } : {}) };
}

/** One slice of images, `batch` at a time (what a worker runs; also the one-thread path). */
export function runJob(program: IntegerProgram, job: WorkerJob): Extract<WorkerReply, { kind: 'done' }> {
  const { config } = program;
  const imageSize = config.inChans * config.imgSize ** 2;
  const classes = config.numClasses;
  const logits = new Float32Array(job.count * classes);
  let overflows = 0;
  const stats: OperandTallies = new Map();
  for (let start = 0; start < job.count; start += job.batch) {
    const b = Math.min(job.batch, job.count - start);
    const result = integerForward(program, job.pixels.subarray(start * imageSize, (start + b) * imageSize), b, { stats: job.stats });
    logits.set(result.logits, start * classes);
    overflows += result.overflows;
    if (result.stats) mergeTallies(stats, result.stats);
  }
  return { id: job.id, kind: 'done', logits, overflows, ...(job.stats ? { stats } : {}) };
}

function mergeTallies(into: OperandTallies, from: OperandTallies): void {
  for (const [op, entry] of from) {
    const target = into.get(op) ?? { a: { count: 0, zeros: 0, sumAbs: 0 } };
    for (const key of ['a', 'b'] as const) {
      const src = entry[key];
      if (!src) continue;
      const dst = (target[key] ??= { count: 0, zeros: 0, sumAbs: 0 });
      dst.count += src.count;
      dst.zeros += src.zeros;
      dst.sumAbs += src.sumAbs;
    }
    into.set(op, target);
  }
}

function emptyReply(id: number): Extract<WorkerReply, { kind: 'done' }> {
  return { id, kind: 'done', logits: new Float32Array(0), overflows: 0 };
}

function runInWorker(program: IntegerProgram, job: WorkerJob): Promise<Extract<WorkerReply, { kind: 'done' }>> {
  const worker = import.meta.url.endsWith('.ts')
    ? new Worker(typeScriptBootstrap(new URL('./worker.ts', import.meta.url)), { eval: true, workerData: { program } })
    : new Worker(new URL('./worker.js', import.meta.url), { workerData: { program } });
  return new Promise<Extract<WorkerReply, { kind: 'done' }>>((resolve, reject) => {
    worker.on('message', (reply: WorkerReply) => {
      if (reply.kind === 'error') {
        const error = new Error(`integer worker: ${reply.message}`);
        if (reply.stack) error.stack = reply.stack;
        reject(error);
      } else {
        resolve(reply);
      }
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`integer worker exited with code ${code}`)));
    worker.postMessage(job, [job.pixels.buffer as ArrayBuffer]);
  }).finally(() => {
    void worker.terminate();
  });
}

/** A worker does not inherit tsx's loader, so the TypeScript entry is imported through tsx's API. */
function typeScriptBootstrap(entry: URL): string {
  const tsxRoot = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const api = pathToFileURL(join(tsxRoot, 'dist', 'esm', 'api', 'index.mjs')).href;
  return `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}));`;
}
