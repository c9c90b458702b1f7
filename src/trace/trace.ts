/**
 * The trace file: the op list of one inference as versioned JSON, checked against the published
 * schema (workloads/trace.schema.json) and then against what a schema cannot say (operand widths vs
 * threshold levels, MAC counts a double holds exactly, unique layer names). Every refusal is one
 * line naming the file, the op index and the field.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserError } from '../config/errors.js';
import { readJsonFile, validateWithSchema } from '../config/schema.js';
import { opMacs, opWeights, type GemmOp, type Op, type Quantizer } from './ops.js';

export const TRACE_FORMAT = 'vitsim-trace';

/**
 * The format version this vitsim writes and the newest it reads. The schema allows no unknown
 * fields, so any change to the fields or their meaning bumps it (docs/trace-format.md).
 */
export const TRACE_VERSION = 1;

/** The published schema; from src/trace/ or dist/trace/ the package root is two levels up. */
export const TRACE_SCHEMA_FILE = fileURLToPath(new URL('../../workloads/trace.schema.json', import.meta.url));

export interface Trace {
  format: typeof TRACE_FORMAT;
  version: number;
  /** The workload the ops come from, e.g. 'deit-s'. */
  model: string;
  batch: number;
  /** Where the architecture and the bit-widths come from. */
  source?: string;
  /** In execution order. */
  ops: Op[];
}

/** What a trace adds up to: MACs over all GEMMs, weight values read (each once per inference). */
export function traceTotals(trace: Trace): { ops: number; gemms: number; macs: number; weights: number } {
  return {
    ops: trace.ops.length,
    gemms: trace.ops.filter((op) => op.kind === 'gemm').length,
    macs: trace.ops.reduce((sum, op) => sum + opMacs(op), 0),
    weights: trace.ops.reduce((sum, op) => sum + opWeights(op), 0),
  };
}

/** Reads and checks a trace file. */
export function readTrace(file: string): Trace {
  return parseTrace(readJsonFile(file), file);
}

/** Checks a parsed trace; `file` is used only in messages. */
export function parseTrace(data: unknown, file: string): Trace {
  checkVersion(data, file);
  // `$schema` only points editors at the schema; it is not part of the trace.
  const { $schema: _schema, ...trace } = validateWithSchema<Trace & { $schema?: string }>(data, traceSchema(), file);
  const seen = new Map<string, number>();
  trace.ops.forEach((op, i) => {
    const problem = opProblem(op);
    if (problem) throw new UserError(`${file}: ops[${i}].${problem}`);
    const first = seen.get(op.name);
    if (first !== undefined) throw new UserError(`${file}: ops[${i}].name must be unique, got ${JSON.stringify(op.name)} (also ops[${first}])`);
    seen.set(op.name, i);
  });
  return trace;
}

/** The trace as text: the header pretty-printed, one op per line so diffs show which layer changed. */
export function formatTrace(trace: Trace): string {
  const { ops, ...header } = trace;
  const head = JSON.stringify({ $schema: 'https://vitsim.dev/schema/trace.schema.json', ...header }, null, 2);
  const lines = ops.map((op) => `    ${JSON.stringify(op)}`);
  return `${head.slice(0, -2)},\n  "ops": [\n${lines.join(',\n')}\n  ]\n}\n`;
}

export function writeTrace(trace: Trace, file: string): void {
  try {
    writeFileSync(file, formatTrace(trace));
  } catch (err) {
    throw new UserError(`${file}: cannot write file (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
}

/** Why an op that passed the schema is still wrong, as `field must be …, got …`, or undefined. */
function opProblem(op: Op): string | undefined {
  const size = op.kind === 'gemm' ? op.m * op.k * op.n * op.count : op.rows * op.cols * op.count;
  // Simulators multiply these out; past 2^53 a double no longer counts every MAC.
  if (!Number.isSafeInteger(size)) return `count must keep the op below 2^53 multiply-accumulates or elements, got ${op.count}`;
  return op.kind === 'gemm' ? gemmProblem(op) : undefined;
}

function gemmProblem(op: GemmOp): string | undefined {
  if (op.bOperand === 'activation' && op.bQuant === undefined) return 'bQuant is required when bOperand is "activation", got nothing';
  if (op.bOperand === 'weight' && op.bQuant !== undefined) return `bQuant is only for activation B operands (bOperand is "weight"), got ${JSON.stringify(op.bQuant)}`;
  return quantizerProblem(op.actQuant, op.actBits, 'actQuant', 'actBits') ?? (op.bQuant && quantizerProblem(op.bQuant, op.weightBits, 'bQuant', 'weightBits'));
}

function quantizerProblem(q: Quantizer, bits: number, field: string, bitsField: string): string | undefined {
  if (q.kind === 'threshold') {
    if (q.levels > 2 ** bits) return `${field}.levels must be at most 2^${bitsField} = ${2 ** bits}, got ${q.levels}`;
  } else if ('levels' in q) {
    return `${field}.levels is only for the threshold quantizer (kind is ${JSON.stringify(q.kind)}), got ${JSON.stringify((q as { levels: unknown }).levels)}`;
  }
  return undefined;
}

/** Before the schema: a newer file may use fields this schema does not know, and should say so. */
function checkVersion(data: unknown, file: string): void {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return;
  const { format, version } = data as Record<string, unknown>;
  if (format !== undefined && format !== TRACE_FORMAT) throw new UserError(`${file}: format must be "${TRACE_FORMAT}", got ${JSON.stringify(format)} (not a vitsim trace?)`);
  if (typeof version === 'number' && Number.isInteger(version) && version > TRACE_VERSION) {
    throw new UserError(`${file}: version must be at most ${TRACE_VERSION}, got ${version} (written by a newer vitsim; upgrade to read it)`);
  }
}

let schemaCache: object | undefined;
function traceSchema(): object {
  schemaCache ??= JSON.parse(readFileSync(TRACE_SCHEMA_FILE, 'utf8')) as object;
  return schemaCache;
}
