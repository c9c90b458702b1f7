/**
 * `vitsim trace --model <name|file>`: the op list of one inference as a trace file, from a workload
 * description alone (no weights). Bit-widths are uniform (`--wbits/--abits`) or per layer (`--bits`);
 * `--attention qkr` traces the blocks with OFQ's query–key reparameterisation instead of Q·Kᵀ.
 * `vitsim trace --model <checkpoint> --quant <qmodel> [--calib N]`: the trace of a quantized model,
 * with its real per-layer widths and quantizer kinds, and operand statistics measured by the integer
 * engine on N calibration images of the checkpoint's dataset (train split).
 * `vitsim trace --check <trace>` validates a trace written elsewhere (by hand, by the quantizer).
 */
import { basename, extname } from 'node:path';
import type { CommandModule } from 'yargs';
import { describe as describeValue, UserError } from '../config/errors.js';
import { formatSI } from '../config/units.js';
import { measureOperandStats } from '../integer/stats.js';
import { DATASET_KEY, loadCheckpoint } from '../model/checkpoint.js';
import { DATASET_NAMES, type DatasetName } from '../model/datasets.js';
import { loadCalibrationSet } from '../quant/calibration.js';
import { readQuantizedModel } from '../quant/qmodel-file.js';
import type { QuantizedViT } from '../quant/spec.js';
import { DEFAULT_ACC_BITS, loadBitsMap, uniformBits } from '../trace/bits.js';
import { buildTrace } from '../trace/build.js';
import { traceFromQuantized } from '../trace/from-quantized.js';
import { formatTrace, readTrace, traceTotals, writeTrace, type Trace } from '../trace/trace.js';
import { loadWorkload, withAttention, workloadAttention, workloadNames, type Workload } from '../trace/workload.js';

interface TraceArgs {
  model?: string;
  check?: string;
  batch?: number;
  wbits: number;
  abits: number;
  bits?: string;
  'acc-bits': number;
  attention?: string;
  quant?: string;
  calib: number;
  out?: string;
}

/** Calibration images the operand statistics are measured on, by default. */
const DEFAULT_CALIB = 32;

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
      .option('attention', {
        type: 'string',
        describe: "attention form of every block, over the description's `attention`: standard (Q·Kᵀ from qkv) or qkr (OFQ's query–key reparameterisation: attn.v and attn.qkr instead of attn.qkv, and attn.qk reduces over all C channels; plain ViTs only)",
      })
      .option('quant', { type: 'string', describe: 'quantized-model file (vitsim quantize) of the checkpoint named by --model: widths and quantizers come from it' })
      .option('calib', { type: 'number', default: DEFAULT_CALIB, describe: 'with --quant: train images the integer engine measures operand statistics on' })
      .option('out', { type: 'string', describe: 'write the trace here (default: stdout)' }),
  handler: async (args) => {
    if (args.check !== undefined) {
      process.stdout.write(`${args.check}: ${summary(readTrace(args.check))}\n`);
      return;
    }
    if (args.model === undefined) throw new UserError('vitsim trace: name a --model (a workload name or file), or --check a trace file');
    if (args.batch !== undefined && !(Number.isSafeInteger(args.batch) && args.batch > 0)) throw new UserError(`--batch must be a positive integer, got ${args.batch}`);
    if (args.quant !== undefined) {
      const trace = await quantizedTrace(args.model, args.quant, args);
      if (args.out === undefined) process.stdout.write(formatTrace(trace));
      else writeTrace(trace, args.out);
      process.stderr.write(`${summary(trace)}\n`);
      return;
    }
    const loaded = loadWorkload(args.model);
    const workload = args.attention === undefined ? loaded : withAttention(loaded, args.attention, '--attention');
    const defaults = uniformBits(args.wbits, args.abits, args['acc-bits']);
    const bits = args.bits === undefined ? defaults : loadBitsMap(args.bits, defaults.defaults);
    const trace = buildTrace(workload, { bits, ...(args.batch === undefined ? {} : { batch: args.batch }) });
    if (args.out === undefined) process.stdout.write(formatTrace(trace));
    else writeTrace(trace, args.out);
    process.stderr.write(`${summary(trace)}${publishedNote(workload, trace.batch)}\n`);
  },
};

/** The trace of a quantized model, its operand statistics measured on `calib` train images. */
async function quantizedTrace(modelFile: string, quantFile: string, args: TraceArgs): Promise<Trace> {
  if (args.bits !== undefined) throw new UserError('vitsim trace: --bits does not apply with --quant (the widths come from the quantized model)');
  if (args.attention !== undefined) throw new UserError('vitsim trace: --attention does not apply with --quant (the attention form comes from the quantized model)');
  if (!(Number.isSafeInteger(args.calib) && args.calib > 0)) throw new UserError(`--calib must be a positive integer, got ${args.calib}`);
  const accBits = args['acc-bits'];
  if (!(Number.isInteger(accBits) && accBits >= 2 && accBits <= 32)) throw new UserError(`--acc-bits must be an integer from 2 to 32, got ${accBits}`);
  const { config, metadata } = loadCheckpoint(modelFile);
  const q: QuantizedViT = readQuantizedModel(quantFile);
  const differs = (Object.keys(config) as (keyof typeof config)[]).find((key) => JSON.stringify(config[key]) !== JSON.stringify(q.config[key]));
  if (differs !== undefined) {
    throw new UserError(`${quantFile}: its config has ${differs} ${describeValue(q.config[differs])}, ${modelFile} has ${describeValue(config[differs])}; quantize this checkpoint with vitsim quantize`);
  }
  const recorded = metadata[DATASET_KEY];
  const dataset: DatasetName = DATASET_NAMES.includes(recorded as DatasetName) ? (recorded as DatasetName) : 'fashion-mnist';
  const calib = loadCalibrationSet(dataset, args.calib, 0);
  const stats = await measureOperandStats(q, calib, { accBits, workers: 1 });
  const name = basename(modelFile, extname(modelFile));
  return traceFromQuantized(q, {
    name, source: `${basename(modelFile)} + ${basename(quantFile)}, operand statistics on ${args.calib} ${dataset} train images`, accBits, stats,
    ...(args.batch === undefined ? {} : { batch: args.batch }),
  });
}

/** One line for people: op count, MACs, weights. */
export function summary(trace: Trace): string {
  const { ops, gemms, macs, weights } = traceTotals(trace);
  return `${trace.model}, batch ${trace.batch}: ${ops} ops (${gemms} GEMM, ${ops - gemms} vector), ${formatSI(macs, 'MAC')}, ${formatSI(weights, '')} weight parameters`;
}

/** The paper's MAC figure for comparison, when there is one for this resolution. */
function publishedNote(workload: Workload, batch: number): string {
  const published = workload.published;
  if (published?.macs === undefined || (published.imgSize ?? workload.imgSize) !== workload.imgSize) return '';
  // Papers count the standard Q·Kᵀ form; a QKR trace's extra score MACs are not in their figure.
  const form = workloadAttention(workload) === 'qkr' ? ' with standard attention' : '';
  return `, published ${formatSI(published.macs * batch, 'MAC')}${form}`;
}
