/**
 * Running a sweep into an output directory so that it survives being killed at any moment.
 *
 * - `sweep.json` (the spec, the shard) is written first, whole (temporary file, then rename).
 * - Every finished chunk of points is appended to `results.jsonl` with one write(2) on a descriptor
 *   opened with O_APPEND: a kill leaves complete lines and at most one torn last line.
 * - `resume` reads the file, cuts off a torn last line, and computes only the points not in it; so
 *   no point is lost and none is written twice.
 * - When every point of the slice is in, the file is rewritten sorted by index (temporary file, then
 *   rename), so a run with any number of workers, interrupted or not, ends in the same bytes.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../config/errors.js';
import { loadWorkload } from '../trace/workload.js';
import { accuracySource } from './accuracy.js';
import { pointQuant } from './design.js';
import { nsga2 } from './nsga2.js';
import { pointPool, type PointJob, type PoolOptions } from './pool.js';
import { RECORD_FILE, RESULTS_FILE, type SweepRecord } from './output-dir.js';
import type { PointResult } from './result.js';
import { gridGenes, paramsOf, plannedGridIndices, shardRange } from './sample.js';
import { expandAxes, type SweepSpec } from './spec.js';

export interface RunOptions extends Omit<PoolOptions, 'cacheDir'> {
  out: string;
  /** The spec's file, recorded in sweep.json. */
  specFile: string;
  shard?: { index: number; count: number };
  resume: boolean;
  /** Called after every appended chunk: points of this slice done (including resumed ones), and its size. */
  progress?: (done: number, total: number) => void;
}

export interface RunSummary {
  /** Points of this slice. */
  total: number;
  /** Points found in the results file when the run started. */
  resumed: number;
  /** Points computed by this run. */
  computed: number;
}

/** Points in the whole sweep (all shards). */
export function sweepPoints(spec: SweepSpec): number {
  const s = spec.sampling;
  if (s.kind === 'nsga2') return s.population * s.generations;
  return plannedGridIndices(spec, expandAxes(spec)).count;
}

export async function runSweep(spec: SweepSpec, options: RunOptions): Promise<RunSummary> {
  if (spec.sampling.kind === 'nsga2' && options.shard !== undefined) {
    throw new UserError(`${options.specFile}: --shard cannot split an nsga2 sweep (each generation needs the last one's results); run it whole`);
  }
  const out = options.out;
  mkdirSync(out, { recursive: true });
  const record: SweepRecord = {
    format: 'vitsim-sweep',
    version: 1,
    spec,
    specFile: resolve(options.specFile),
    points: sweepPoints(spec),
    ...(options.shard === undefined ? {} : { shard: options.shard }),
  };
  startRecord(out, record, options.resume);

  const resultsFile = join(out, RESULTS_FILE);
  const { done, existing } = completeLines(resultsFile, spec.sampling.kind === 'nsga2');
  const fd = openSync(resultsFile, 'a');
  const [from, to] = shardRange(record.points, options.shard);
  const total = to - from;
  let count = [...done].filter((i) => i >= from && i < to).length;
  const resumed = count;
  const append = (lines: string[]): void => {
    // One write of whole lines: with O_APPEND the kernel places it at the end in one piece.
    writeSync(fd, lines.join(''));
    count += lines.length;
    options.progress?.(count, total);
  };
  options.progress?.(count, total);

  const cacheDir = join(out, 'accuracy-cache');
  const pool = pointPool(spec, { ...options, cacheDir });
  try {
    const axes = expandAxes(spec);
    if (spec.sampling.kind === 'nsga2') {
      const known = new Map(existing.map((p) => [p.index, p]));
      await nsga2(axes, spec.objectives, spec.sampling, async (points) => {
        const todo = points.filter((p) => !known.has(p.index));
        await pool.run(todo, (lines) => {
          append(lines);
          for (const line of lines) {
            const p = JSON.parse(line) as PointResult;
            known.set(p.index, p);
          }
        });
        return points.map((p) => known.get(p.index) as PointResult);
      });
    } else {
      const plan = plannedGridIndices(spec, axes);
      const jobs: PointJob[] = [];
      for (let i = from; i < to; i++) if (!done.has(i)) jobs.push({ index: i, params: paramsOf(axes, gridGenes(axes, plan.gridIndex(i))) });
      await measureFirst(spec, jobs, cacheDir);
      await pool.run(jobs, append);
    }
  } finally {
    closeSync(fd);
    await pool.close();
  }
  sortResults(resultsFile);
  return { total, resumed, computed: count - resumed };
}

/**
 * Measured accuracy: each distinct quantisation of the jobs is measured here, one after another,
 * before the workers start, so that they all find it in the cache instead of measuring it at once.
 */
async function measureFirst(spec: SweepSpec, jobs: readonly PointJob[], cacheDir: string): Promise<void> {
  if (spec.accuracy.source !== 'measured') return;
  const lookup = accuracySource(spec, cacheDir);
  const model = loadWorkload(spec.workload).name;
  const quants = new Map(jobs.map((j) => {
    const q = pointQuant(spec, j.params);
    return [JSON.stringify(q), q];
  }));
  for (const q of quants.values()) await lookup(q, model);
}

/** Writes sweep.json, or on resume checks that the directory holds this very sweep. */
function startRecord(out: string, record: SweepRecord, resume: boolean): void {
  const file = join(out, RECORD_FILE);
  if (existsSync(file)) {
    if (!resume) throw new UserError(`${out}: already holds a sweep (${RECORD_FILE}); add --resume to finish it, or choose another --out`);
    const before = JSON.parse(readFileSync(file, 'utf8')) as SweepRecord;
    if (JSON.stringify(before.spec) !== JSON.stringify(record.spec)) throw new UserError(`${out}: holds a different sweep (its ${RECORD_FILE} spec differs from ${record.specFile}); cannot resume`);
    if (JSON.stringify(before.shard) !== JSON.stringify(record.shard)) {
      const shard = (s: SweepRecord['shard']): string => (s === undefined ? 'the whole sweep' : `shard ${s.index}/${s.count}`);
      throw new UserError(`${out}: holds ${shard(before.shard)}, not ${shard(record.shard)}; cannot resume`);
    }
    return;
  }
  if (existsSync(join(out, RESULTS_FILE))) throw new UserError(`${out}: has ${RESULTS_FILE} but no ${RECORD_FILE}; choose another --out`);
  writeWhole(file, `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * The points already in a results file (parsed only when `parse`: nsga2 needs their metrics, a grid
 * only their indices); a torn last line is cut off the file itself.
 */
function completeLines(file: string, parse: boolean): { done: Set<number>; existing: PointResult[] } {
  if (!existsSync(file)) return { done: new Set(), existing: [] };
  const text = readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  const completeBytes = Buffer.byteLength(text.slice(0, end));
  const lines = text.slice(0, end).split('\n').filter((l) => l !== '');
  if (completeBytes < Buffer.byteLength(text)) {
    const fd = openSync(file, 'r+');
    try {
      ftruncateSync(fd, completeBytes);
    } finally {
      closeSync(fd);
    }
  }
  // A point written twice would mean a bug in this file; keep the file honest rather than guess.
  const done = new Set<number>();
  for (const line of lines) {
    const index = lineIndex(line);
    if (done.has(index)) throw new Error(`${file}: point ${index} appears twice`);
    done.add(index);
  }
  return { done, existing: parse ? lines.map((l) => JSON.parse(l) as PointResult) : [] };
}

/** Rewrites the results file sorted by index (the lines themselves untouched). */
export function sortResults(file: string): void {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const keyed = lines.map((line) => ({ index: lineIndex(line), line }));
  keyed.sort((a, b) => a.index - b.index);
  writeWhole(file, keyed.map((k) => `${k.line}\n`).join(''));
}

/** The index of a result line: resultLine writes it first, so the line need not be parsed. */
function lineIndex(line: string): number {
  const match = /^\{"index":(\d+),/.exec(line);
  if (match === null) throw new Error(`a results line does not start with its index: ${line.slice(0, 40)}`);
  return Number(match[1]);
}

/** Writes a file whole: a temporary file in the same directory, then an atomic rename over it. */
export function writeWhole(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}
