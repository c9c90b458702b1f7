/**
 * One evaluated design point, as a sweep stores it: `<out>/results.jsonl` holds one PointResult per
 * line, `<out>/sweep.json` the spec and how it was run (SweepRecord). A finished sweep's results file
 * is sorted by `index`, the point's place in the sweep's deterministic order, so a sweep run with any
 * number of workers, shards or interruptions ends in the same bytes.
 *
 * Units: SI except the two that papers print (mm², TOPS); energy, MACs and DRAM bytes per inference;
 * latency and cycles per batch of the workload (batch 1 unless the spec sets one).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../config/errors.js';
import type { Accelerator } from '../hw/arch.js';
import type { Trace } from '../trace/trace.js';
import { designOf } from './design.js';
import { parseSweep, type SweepSpec } from './spec.js';

export type ParamValue = string | number | boolean;

export interface PointMetrics {
  latencyS: number;
  energyJ: number;
  areaMm2: number;
  /** Top-1 in percent, or null when the spec's accuracy source has no number for this point. */
  accuracy: number | null;
  /** Where `accuracy` came from: a literature row's citation, or the measured engine and its cache key. */
  accuracySource: string | null;
  throughputIps: number;
  effectiveTops: number;
  peakTops: number;
  macs: number;
  dramBytes: number;
  cycles: number;
}

export interface PointResult {
  /** The point's index in the sweep's deterministic order. */
  index: number;
  /** Axis values of this point, keyed by axis name (`array.rows`, `quant.wbits`, …). */
  params: Record<string, ParamValue>;
  feasible: boolean;
  /** Names of the constraints this point does not meet. */
  violated: string[];
  metrics: PointMetrics;
  breakdown: {
    /** Energy per inference by cost component (`pe array`, `sram ifmap`, `dram`, …). */
    energyJ: Record<string, number>;
    areaMm2: Record<string, number>;
    /** Latency of one batch by op kind (`gemm`, `softmax`, `layernorm`, …). */
    latencySByOpKind: Record<string, number>;
  };
  /**
   * Only on a point whose axis values make no valid design (the simulator or the pricer refused it):
   * the refusal. Such a point has feasible false, violated ['invalid design'] and every metric 0,
   * so it must never enter a front.
   */
  error?: string;
}

/** The metric names constraints and objectives may use. */
export const METRICS = ['latencyS', 'energyJ', 'areaMm2', 'accuracy', 'throughputIps', 'effectiveTops', 'peakTops', 'macs', 'dramBytes', 'cycles'] as const;
export type Metric = (typeof METRICS)[number];

/** `<out>/sweep.json`. */
export interface SweepRecord {
  format: 'vitsim-sweep';
  version: 1;
  /** The validated spec, with file references resolved to absolute paths. */
  spec: SweepSpec;
  /** Where the spec was read from. */
  specFile: string;
  /** Points in the whole sweep (all shards). */
  points: number;
  /** The slice this directory holds; absent for a whole sweep or a merge of all shards. */
  shard?: { index: number; count: number };
}

export const RESULTS_FILE = 'results.jsonl';
export const RECORD_FILE = 'sweep.json';

/** Reads a sweep output directory: the spec it ran and every complete result line, sorted by index. */
export function readResults(dir: string): { spec: SweepSpec; points: PointResult[]; record: SweepRecord } {
  const record = readRecord(dir);
  const file = join(dir, RESULTS_FILE);
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  return { spec: record.spec, points: parseResultLines(text).points, record };
}

/** The design and trace a point stands for, so a report can re-simulate it op by op. */
export function designFromPoint(spec: SweepSpec, params: Record<string, ParamValue>): { arch: Accelerator; trace: Trace } {
  return designOf(spec, params);
}

/** Reads `<dir>/sweep.json`, refusing a directory that holds no sweep. */
export function readRecord(dir: string): SweepRecord {
  const file = join(dir, RECORD_FILE);
  if (!existsSync(file)) throw new UserError(`${dir}: not a sweep output directory (no ${RECORD_FILE})`);
  let data: SweepRecord;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as SweepRecord;
  } catch (err) {
    throw new UserError(`${file}: is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (data.format !== 'vitsim-sweep') throw new UserError(`${file}: format must be "vitsim-sweep", got ${JSON.stringify(data.format)}`);
  return { ...data, spec: parseSweep(data.spec, file, { resolved: true }) };
}

/**
 * The complete lines of a results file, sorted by index. A last line without its newline is what a
 * killed writer leaves behind: it is dropped, and `completeBytes` says where the good part ends.
 */
export function parseResultLines(text: string): { points: PointResult[]; completeBytes: number } {
  const end = text.lastIndexOf('\n') + 1;
  const points: PointResult[] = [];
  for (const line of text.slice(0, end).split('\n')) if (line !== '') points.push(JSON.parse(line) as PointResult);
  points.sort((a, b) => a.index - b.index);
  return { points, completeBytes: Buffer.byteLength(text.slice(0, end)) };
}

/** One results line, newline included. */
export function resultLine(point: PointResult): string {
  return `${JSON.stringify(point)}\n`;
}
