/**
 * A GradientEngine on worker threads: data-parallel shard gradients and predictions.
 *
 * Worker w computes the shards w, w + W, w + 2W, … of each batch with the same shardGradient the
 * in-process engine runs, and the trainer sums the shards in shard order; so the weights do not
 * depend on the number of workers (train.ts explains why). Parameters travel as one flat
 * Float32Array per step (a copy per worker: a few MB against a step of several hundred ms), and
 * each shard's gradient comes back transferred, not copied.
 *
 * The worker runs train-worker.js next to this file: from dist/ that is the compiled entry; when
 * this module runs as TypeScript (tsx, the benchmarks, tests), the worker loads train-worker.ts
 * through tsx's loader instead.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ViTConfig } from './config.js';
import { inProcessEngine, type GradientEngine, type ShardJob, type ShardResult } from './train.js';

/** Messages to a worker. */
export type WorkerRequest =
  | { id: number; kind: 'gradients'; params: Float32Array; jobs: ShardJob[]; batchTotal: number }
  | { id: number; kind: 'predict'; params: Float32Array; images: Float32Array; count: number };

/** Messages from a worker. */
export type WorkerReply =
  | { id: number; kind: 'gradients'; results: ShardResult[] }
  | { id: number; kind: 'predict'; predicted: Uint8Array }
  | { id: number; kind: 'error'; message: string; stack?: string };

/** `workers` threads; 1 worker runs in this thread (no thread pays nothing for messages). */
export function workerEngine(config: ViTConfig, workers: number): GradientEngine {
  if (!(Number.isInteger(workers) && workers >= 1)) throw new RangeError(`workers must be a positive integer, got ${workers}`);
  if (workers === 1) return inProcessEngine(config);
  const pool = Array.from({ length: workers }, () => spawn(config));
  const imageSize = config.inChans * config.imgSize * config.imgSize;
  let nextId = 0;

  return {
    async gradients(params, jobs, batchTotal) {
      const perWorker = pool.map((_, w) => jobs.filter((__, j) => j % workers === w));
      const replies = await Promise.all(
        pool.map((worker, w) =>
          perWorker[w].length === 0
            ? Promise.resolve<ShardResult[]>([])
            : worker.request<ShardResult[]>({ id: nextId++, kind: 'gradients', params, jobs: perWorker[w].map(copyJob), batchTotal }),
        ),
      );
      return jobs.map((_, j) => replies[j % workers][Math.floor(j / workers)]);
    },
    async predict(params, images, count) {
      const chunks = pool.map((_, w) => [Math.floor((w * count) / workers), Math.floor(((w + 1) * count) / workers)] as const);
      const parts = await Promise.all(
        pool.map((worker, w) => {
          const [from, to] = chunks[w];
          if (to === from) return Promise.resolve(new Uint8Array(0));
          return worker.request<Uint8Array>({
            id: nextId++,
            kind: 'predict',
            params,
            images: images.slice(from * imageSize, to * imageSize),
            count: to - from,
          });
        }),
      );
      const predicted = new Uint8Array(count);
      parts.forEach((part, w) => predicted.set(part, chunks[w][0]));
      return predicted;
    },
    async close() {
      await Promise.all(pool.map((worker) => worker.terminate()));
    },
  };
}

interface PoolWorker {
  request<T>(message: WorkerRequest): Promise<T>;
  terminate(): Promise<void>;
}

function spawn(config: ViTConfig): PoolWorker {
  const worker = import.meta.url.endsWith('.ts')
    ? new Worker(typeScriptBootstrap(new URL('./train-worker.ts', import.meta.url)), { eval: true, workerData: { config } })
    : new Worker(new URL('./train-worker.js', import.meta.url), { workerData: { config } });
  const pending = new Map<number, { resolve: (value: never) => void; reject: (error: Error) => void }>();
  const failAll = (error: Error): void => {
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  worker.on('message', (reply: WorkerReply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.kind === 'error') {
      const error = new Error(`training worker: ${reply.message}`);
      if (reply.stack) error.stack = reply.stack;
      waiter.reject(error);
    } else {
      waiter.resolve((reply.kind === 'gradients' ? reply.results : reply.predicted) as never);
    }
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => {
    if (pending.size > 0) failAll(new Error(`training worker exited with code ${code}`));
  });
  // An idle pool must not keep the process alive if the caller forgets close().
  worker.unref();
  return {
    request<T>(message: WorkerRequest): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        pending.set(message.id, { resolve: resolve as (value: never) => void, reject });
        worker.ref();
        worker.postMessage(message);
      }).finally(() => {
        if (pending.size === 0) worker.unref();
      });
    },
    terminate: async () => {
      await worker.terminate();
    },
  };
}

/**
 * A worker does not inherit tsx's loader from the thread that spawns it (nor does `--import tsx` in
 * its execArgv take effect), so the TypeScript entry is imported through tsx's API.
 */
function typeScriptBootstrap(entry: URL): string {
  const tsxRoot = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const api = pathToFileURL(join(tsxRoot, 'dist', 'esm', 'api', 'index.mjs')).href;
  return `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}));`;
}

/** Jobs are views into the batch; send only their own bytes. */
function copyJob(job: ShardJob): ShardJob {
  return { images: job.images.slice(), labels: job.labels.slice(), count: job.count };
}
