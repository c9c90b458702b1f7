/**
 * `vitsim merge <dirs…> --out <dir>`: joins the output directories of a sweep's shards into one,
 * sorted by point index; refuses directories of different sweeps and overlapping points.
 *
 *   vitsim merge runs/shard-0 runs/shard-1 runs/shard-2 runs/shard-3 --out runs/all
 */
import type { Argv, CommandModule } from 'yargs';
import { mergeSweeps } from '../dse/merge.js';

interface MergeArgs {
  dirs: string[];
  out: string;
  json: boolean;
}

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: 'merge <dirs..>',
  describe: 'join the output directories of a sweep\'s shards (vitsim sweep --shard) into one',
  builder: (y) =>
    y
      .positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'sweep output directories' })
      .option('out', { type: 'string', demandOption: true, describe: 'the joined sweep directory' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON' }) as unknown as Argv<MergeArgs>,
  handler: (args) => {
    const summary = mergeSweeps(args.dirs, args.out);
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ ...summary, out: args.out })}\n`);
      return;
    }
    const missing = summary.missing > 0 ? `; ${summary.missing} missing (vitsim sweep <spec> --out ${args.out} --resume computes them)` : '';
    process.stdout.write(`${summary.merged} of ${summary.points} points from ${args.dirs.length} directories in ${args.out}/results.jsonl${missing}\n`);
  },
};
