/**
 * Evaluating points on worker threads. The runner hands the pool a list of points; the pool cuts it
 * into chunks of consecutive points (neighbours share simulations, see evaluate.ts) and gives the
 * next chunk to whichever worker is free. A worker sends finished result lines back every
 * LINES_PER_REPLY points, and the runner appends them at once: results arrive in whatever order the
 * workers finish, and the runner sorts them at the end.
 *
 * One worker evaluates in this thread (no messages). The worker runs point-worker.js next to this
 * file from dist/, or point-worker.ts through tsx's API when this module runs as TypeScript (the
 * same arrangement as model/train-workers.ts).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UserError } from '../config/errors.js';
import { evaluator, type EvaluatorOptions } from './evaluate.js';
import { resultLine, type ParamValue } from './result.js';
import type { SweepSpec } from './spec.js';

export interface PointJob {
  index: number;
  params: Record<string, ParamValue>;
}

/** Called once per finished chunk with its result lines (newline-terminated), in chunk order. */
export type OnLines = (lines: string[]) => void;

export interface PointPool {
  /** Evaluates every job; resolves once every chunk's lines were handed to `onLines`. */
  run(jobs: readonly PointJob[], onLines: OnLines): Promise<void>;
  close(): Promise<void>;
}

/** Messages to a worker and back: a chunk's lines come back in parts of at most LINES_PER_REPLY, the last one `done`. */
export type PoolRequest = { id: number; jobs: PointJob[] };
export type PoolReply = { id: number; lines: string[]; done: boolean } | { id: number; error: string; stack?: string; user: boolean };

/** Result lines per reply (and per append): small enough for a live progress bar and little lost work on a kill. */
export const LINES_PER_REPLY = 32;

/**
 * Points per chunk: about 16 chunks per worker, so the last chunks still balance the workers, and
 * long runs of consecutive points per worker, so points sharing a simulation mostly meet in one
 * worker's cache (a chunk boundary costs at most one simulation twice).
 */
function chunkSize(points: number, workers: number): number {
  return Math.min(4096, Math.max(LINES_PER_REPLY, Math.ceil(points / (16 * workers))));
}

export interface PoolOptions extends EvaluatorOptions {
  workers: number;
}

export function pointPool(spec: SweepSpec, options: PoolOptions): PointPool {
  if (options.workers === 1) return inProcessPool(spec, options);
  if (options.accuracy !== undefined) throw new Error('an injected accuracy source cannot cross to worker threads; use one worker');
  const workers = Array.from({ length: options.workers }, () => spawn(spec, options.cacheDir));
  let nextId = 0;
  return {
    async run(jobs, onLines) {
      const size = chunkSize(jobs.length, workers.length);
      let next = 0;
      const feed = async (worker: Worker): Promise<void> => {
        while (next < jobs.length) {
          const chunk = jobs.slice(next, next + size);
          next += size;
          await request(worker, { id: nextId++, jobs: chunk }, onLines);
        }
      };
      await Promise.all(workers.map(feed));
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

function inProcessPool(spec: SweepSpec, options: EvaluatorOptions): PointPool {
  const evaluate = evaluator(spec, options);
  return {
    async run(jobs, onLines) {
      for (let i = 0; i < jobs.length; i += LINES_PER_REPLY) {
        const lines: string[] = [];
        for (const job of jobs.slice(i, i + LINES_PER_REPLY)) lines.push(resultLine(await evaluate(job.index, job.params)));
        onLines(lines);
      }
    },
    async close() {},
  };
}

function spawn(spec: SweepSpec, cacheDir: string | undefined): Worker {
  const workerData = { spec, cacheDir };
  const worker = import.meta.url.endsWith('.ts')
    ? new Worker(typeScriptBootstrap(new URL('./point-worker.ts', import.meta.url)), { eval: true, workerData })
    : new Worker(new URL('./point-worker.js', import.meta.url), { workerData });
  worker.unref();
  return worker;
}

/** Sends one chunk; hands each part of its lines to `onLines` as it arrives. */
function request(worker: Worker, message: PoolRequest, onLines: OnLines): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onMessage = (reply: PoolReply): void => {
      if (reply.id !== message.id) return;
      if ('lines' in reply) {
        onLines(reply.lines);
        if (!reply.done) return;
        cleanup();
        resolve();
        return;
      }
      cleanup();
      if (reply.user) {
        reject(new UserError(reply.error));
      } else {
        const error = new Error(`sweep worker: ${reply.error}`);
        if (reply.stack) error.stack = reply.stack;
        reject(error);
      }
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`sweep worker exited with code ${code}`));
    };
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      worker.unref();
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.ref();
    worker.postMessage(message);
  });
}

/**
 * A worker does not inherit tsx's loader from the thread that spawns it, so the TypeScript entry is
 * imported through tsx's API (as in model/train-workers.ts).
 */
function typeScriptBootstrap(entry: URL): string {
  const tsxRoot = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const api = pathToFileURL(join(tsxRoot, 'dist', 'esm', 'api', 'index.mjs')).href;
  return `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}));`;
}
