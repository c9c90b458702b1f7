/**
 * A sweep's output directory read back: `<out>/sweep.json` holds the spec and how it was run
 * (SweepRecord), `<out>/results.jsonl` one PointResult per line (result.ts). A finished sweep's
 * results file is sorted by `index`, the point's place in the sweep's deterministic order, so a sweep
 * run with any number of workers, shards or interruptions ends in the same bytes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../config/errors.js';
import type { Accelerator } from '../hw/arch.js';
import type { Trace } from '../trace/trace.js';
import { designOf } from './design.js';
import { parseResultLines, type ParamValue, type PointResult } from './result.js';
import { parseSweep, type SweepSpec } from './spec.js';

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
