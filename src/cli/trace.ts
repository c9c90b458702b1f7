/**
 * `vitsim trace --model <name|file>`: the op list of one inference as a trace file, from a workload
 * description alone (no weights). Bit-widths are uniform (`--wbits/--abits`) or per layer (`--bits`).
 * `vitsim trace --check <trace>` validates a trace written elsewhere (by hand, by the quantizer).
 */
import type { CommandModule } from 'yargs';
import { UserError } from '../config/errors.js';
import { formatSI } from '../config/units.js';
import { DEFAULT_ACC_BITS, loadBitsMap, uniformBits } from '../trace/bits.js';
import { buildTrace } from '../trace/build.js';
import { formatTrace, readTrace, traceTotals, writeTrace, type Trace } from '../trace/trace.js';
import { loadWorkload, workloadNames, type Workload } from '../trace/workload.js';

interface TraceArgs {
  model?: string;
  check?: string;
  batch?: number;
  wbits: number;
  abits: number;
  bits?: string;
  'acc-bits': number;
  out?: string;
}

export const traceCommand: CommandModule<object, TraceArgs> = {
  command: 'trace',
  describe: 'write the op list of one inference (shapes, bit-widths, quantizers) as a trace file',
  builder: (y) =>
    y
      .option('model', { type: 'string', describe: `a workload file or a shipped name (${workloadNames().join(', ')})` })
      .option('check', { type: 'string', conflicts: 'model', describe: 'validate this trace file and summarise it instead of writing one' })
      .option('batch', { type: 'number', describe: "images per inference (default: the description's batch)" })
      .option('wbits', { type: 'number', default: 8, describe: 'weight width for every layer' })
      .option('abits', { type: 'number', default: 8, describe: 'activation width for every layer' })
      .option('bits', { type: 'string', describe: 'per-layer widths: JSON map from layer names or patterns (blocks.*.mlp.fc2) to {w, a, acc, quant}, applied over --wbits/--abits' })
      .option('acc-bits', { type: 'number', default: DEFAULT_ACC_BITS, describe: 'accumulator width for every layer' })
      .option('out', { type: 'string', describe: 'write the trace here (default: stdout)' }),
  handler: (args) => {
    if (args.check !== undefined) {
      process.stdout.write(`${args.check}: ${summary(readTrace(args.check))}\n`);
      return;
    }
    if (args.model === undefined) throw new UserError('vitsim trace: name a --model (a workload name or file), or --check a trace file');
    if (args.batch !== undefined && !(Number.isSafeInteger(args.batch) && args.batch > 0)) throw new UserError(`--batch must be a positive integer, got ${args.batch}`);
    const workload = loadWorkload(args.model);
    const defaults = uniformBits(args.wbits, args.abits, args['acc-bits']);
    const bits = args.bits === undefined ? defaults : loadBitsMap(args.bits, defaults.defaults);
    const trace = buildTrace(workload, { bits, ...(args.batch === undefined ? {} : { batch: args.batch }) });
    if (args.out === undefined) process.stdout.write(formatTrace(trace));
    else writeTrace(trace, args.out);
    process.stderr.write(`${summary(trace)}${publishedNote(workload, trace.batch)}\n`);
  },
};

/** One line for people: op count, MACs, weights. */
export function summary(trace: Trace): string {
  const { ops, gemms, macs, weights } = traceTotals(trace);
  return `${trace.model}, batch ${trace.batch}: ${ops} ops (${gemms} GEMM, ${ops - gemms} vector), ${formatSI(macs, 'MAC')}, ${formatSI(weights, '')} weight parameters`;
}

/** The paper's MAC figure for comparison, when there is one for this resolution. */
function publishedNote(workload: Workload, batch: number): string {
  const published = workload.published;
  if (published?.macs === undefined || (published.imgSize ?? workload.imgSize) !== workload.imgSize) return '';
  return `, published ${formatSI(published.macs * batch, 'MAC')}`;
}
