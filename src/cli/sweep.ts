/**
 * `vitsim sweep <spec> --out <dir>`: evaluates every point of a sweep file (designs × quantisations:
 * latency, energy, area, accuracy, constraints) into `<dir>/results.jsonl`, one line per point,
 * appended as soon as it is computed. A killed run finishes with `--resume`; `--shard i/N` runs one
 * deterministic slice (Slurm job arrays, Kubernetes indexed jobs) for `vitsim merge` to join.
 *
 *   vitsim sweep sweeps/edge-grid.json --out runs/edge [--workers 2] [--shard 0/4] [--resume] [--quiet]
 */
import { availableParallelism } from 'node:os';
import cliProgress from 'cli-progress';
import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../config/errors.js';
import { runSweep, sweepPoints } from '../dse/run.js';
import { loadSweep } from '../dse/spec.js';

interface SweepArgs {
  spec: string;
  out: string;
  workers: number;
  shard?: string;
  resume: boolean;
  quiet: boolean;
  json: boolean;
}

const WHERE = 'vitsim sweep';

export const sweepCommand: CommandModule<object, SweepArgs> = {
  command: 'sweep <spec>',
  describe: 'evaluate the design points of a sweep file (latency, energy, area, accuracy) into <out>/results.jsonl; resumable and shardable',
  builder: (y) =>
    y
      .positional('spec', { type: 'string', demandOption: true, describe: 'a sweep file (sweeps/*.json; schema sweeps/sweep.schema.json)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output directory: sweep.json and results.jsonl' })
      .option('workers', { type: 'number', default: availableParallelism(), describe: 'worker threads (the results do not depend on it)' })
      .option('shard', { type: 'string', describe: 'run only slice i of N, written i/N (0-based); join the slices with vitsim merge' })
      .option('resume', { type: 'boolean', default: false, describe: 'finish the sweep already in --out: only the points not yet in results.jsonl' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress bar' })
      .option('json', { type: 'boolean', default: false, describe: 'print the run summary as JSON' }) as unknown as Argv<SweepArgs>,
  handler: async (args) => {
    if (!(Number.isInteger(args.workers) && args.workers >= 1)) throw new UserError(`${WHERE}: --workers must be a positive integer, got ${args.workers}`);
    const shard = args.shard === undefined ? undefined : parseShard(args.shard);
    const spec = loadSweep(args.spec);
    const bar = progressBar(args.quiet);
    const started = Date.now();
    let summary;
    try {
      summary = await runSweep(spec, { out: args.out, specFile: args.spec, workers: args.workers, resume: args.resume, ...(shard ? { shard } : {}), progress: bar.update });
    } finally {
      bar.stop();
    }
    const seconds = (Date.now() - started) / 1000;
    const rate = summary.computed / Math.max(seconds, 1e-9);
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ ...summary, sweepPoints: sweepPoints(spec), seconds, pointsPerSecond: rate, out: args.out })}\n`);
      return;
    }
    const slice = shard ? ` (shard ${shard.index}/${shard.count} of ${sweepPoints(spec)})` : '';
    const resumed = summary.resumed > 0 ? `, ${summary.resumed} already there` : '';
    process.stdout.write(`${spec.name}: ${summary.total} points${slice} in ${args.out}/results.jsonl: ${summary.computed} computed in ${seconds.toFixed(1)} s (${pointsPerSecond(rate)} points/s, ${args.workers} worker(s))${resumed}\n`);
  },
};

/** `i/N` with 0 ≤ i < N. */
export function parseShard(text: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!match || !(count >= 1 && index < count)) throw new UserError(`${WHERE}: --shard must be i/N with 0 <= i < N (e.g. 0/4), got ${JSON.stringify(text)}`);
  return { index, count };
}

/** Points, points/s and ETA on stderr; a line every 15 s when stderr is not a terminal. */
function progressBar(quiet: boolean): { update: (done: number, total: number) => void; stop: () => void } {
  if (quiet) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: 'sweep {bar} {value}/{total} points | {rate} points/s | ETA {eta_formatted}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 15_000,
      etaBuffer: 200,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started: { time: number; done: number } | undefined;
  return {
    update(done, total) {
      if (started === undefined) {
        started = { time: Date.now(), done };
        bar.start(total, done, { rate: '-' });
        return;
      }
      const seconds = (Date.now() - started.time) / 1000;
      bar.update(done, { rate: seconds > 0 ? pointsPerSecond((done - started.done) / seconds) : '-' });
    },
    stop() {
      if (started !== undefined) bar.stop();
    },
  };
}

/** A rate as the progress line shows it: slow measured sweeps (a point takes seconds) keep two decimals. */
function pointsPerSecond(rate: number): string {
  return rate < 10 ? rate.toFixed(2) : rate.toFixed(0);
}
