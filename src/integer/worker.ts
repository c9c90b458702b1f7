/**
 * Entry of an integer-inference worker thread (spawned by evaluate.ts): runs integerForward on the
 * slice of images it is sent, with the program compiled by the parent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { IntegerProgram } from './compile.js';
import { runJob, type WorkerJob, type WorkerReply } from './evaluate.js';

const { program } = workerData as { program: IntegerProgram };
const port = parentPort;
if (!port) throw new Error('integer/worker.ts runs only as a worker thread');

port.on('message', (job: WorkerJob) => {
  try {
    const reply = runJob(program, job);
    port.postMessage(reply, [reply.logits.buffer as ArrayBuffer]);
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    const reply: WorkerReply = { id: job.id, kind: 'error', message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
    port.postMessage(reply);
  }
});
