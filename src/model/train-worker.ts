/**
 * Entry of a training worker thread (spawned by train-workers.ts): computes the shard gradients
 * and predictions it is sent, with the same functions the in-process engine calls.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ViTConfig } from './config.js';
import { flatLayout, paramsFromFlat, predictClasses, shardGradient } from './train.js';
import type { WorkerReply, WorkerRequest } from './train-workers.js';

const { config } = workerData as { config: ViTConfig };
const layout = flatLayout(config);
const port = parentPort;
if (!port) throw new Error('train-worker.ts runs only as a worker thread');

port.on('message', (request: WorkerRequest) => {
  try {
    const params = paramsFromFlat(layout, request.params);
    if (request.kind === 'gradients') {
      const results = request.jobs.map((job) => shardGradient(config, params, job, request.batchTotal));
      const reply: WorkerReply = { id: request.id, kind: 'gradients', results };
      port.postMessage(reply, results.map((r) => r.grads.buffer as ArrayBuffer));
    } else {
      const predicted = predictClasses(config, params, request.images, request.count);
      const reply: WorkerReply = { id: request.id, kind: 'predict', predicted };
      port.postMessage(reply, [predicted.buffer as ArrayBuffer]);
    }
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    const reply: WorkerReply = { id: request.id, kind: 'error', message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
    port.postMessage(reply);
  }
});
