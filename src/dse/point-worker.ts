/**
 * Entry of a sweep worker thread (spawned by pool.ts): evaluates the chunks of points it is sent with
 * the same evaluator the in-process pool runs, and replies with finished result lines.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../config/errors.js';
import { evaluator } from './evaluate.js';
import { LINES_PER_REPLY, type PoolReply, type PoolRequest } from './pool.js';
import { resultLine } from './result.js';
import type { SweepSpec } from './spec.js';

const { spec, cacheDir } = workerData as { spec: SweepSpec; cacheDir?: string };
const port = parentPort;
if (!port) throw new Error('point-worker.ts runs only as a worker thread');
const evaluate = evaluator(spec, cacheDir === undefined ? {} : { cacheDir });

port.on('message', (request: PoolRequest) => {
  void (async () => {
    try {
      let lines: string[] = [];
      for (let i = 0; i < request.jobs.length; i++) {
        const job = request.jobs[i];
        lines.push(resultLine(await evaluate(job.index, job.params)));
        const done = i === request.jobs.length - 1;
        if (lines.length === LINES_PER_REPLY || done) {
          const reply: PoolReply = { id: request.id, lines, done };
          port.postMessage(reply);
          lines = [];
        }
      }
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const reply: PoolReply = { id: request.id, error: error.message, user: err instanceof UserError, ...(error.stack ? { stack: error.stack } : {}) };
      port.postMessage(reply);
    }
  })();
});
