/**
 * Joining the output directories of a sweep's shards (or of any runs of the same sweep) into one:
 * the specs must be the same sweep, no point may appear twice, and the joined results are sorted by
 * index, so merging shards 0..N−1 gives the bytes of the unsharded run. Lines are copied verbatim.
 * A shard killed mid-run contributes its complete lines; the points missing from the merge are
 * reported, and `vitsim sweep --resume` on the merged directory computes exactly those.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../config/errors.js';
import { readRecord, RECORD_FILE, RESULTS_FILE, type SweepRecord } from './output-dir.js';
import { writeWhole } from './run.js';

export interface MergeSummary {
  points: number;
  merged: number;
  missing: number;
}

export function mergeSweeps(dirs: string[], out: string): MergeSummary {
  if (dirs.length === 0) throw new UserError('vitsim merge: name at least one sweep directory');
  if (existsSync(join(out, RECORD_FILE)) || existsSync(join(out, RESULTS_FILE))) throw new UserError(`${out}: already holds a sweep; choose an empty --out`);
  const records = dirs.map(readRecord);
  const first = records[0];
  const spec = JSON.stringify(first.spec);
  records.forEach((r, i) => {
    if (JSON.stringify(r.spec) !== spec) throw new UserError(`${dirs[i]}: holds a different sweep than ${dirs[0]} (the specs in their ${RECORD_FILE} differ); refusing to merge`);
  });

  const lines = new Map<number, string>();
  const from = new Map<number, string>();
  dirs.forEach((dir) => {
    const file = join(dir, RESULTS_FILE);
    if (!existsSync(file)) return;
    const text = readFileSync(file, 'utf8');
    // Only complete lines: a killed shard may end in a torn one.
    for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
      if (line === '') continue;
      const index = (JSON.parse(line) as { index: number }).index;
      if (lines.has(index)) throw new UserError(`${dir}: point ${index} is also in ${from.get(index)}; shards must not overlap`);
      if (!(Number.isInteger(index) && index >= 0 && index < first.points)) throw new UserError(`${dir}: point ${index} is outside the sweep's ${first.points} points`);
      lines.set(index, line);
      from.set(index, dir);
    }
  });

  mkdirSync(out, { recursive: true });
  const record: SweepRecord = { format: first.format, version: first.version, spec: first.spec, specFile: first.specFile, points: first.points };
  writeWhole(join(out, RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
  const sorted = [...lines.keys()].sort((a, b) => a - b);
  writeWhole(join(out, RESULTS_FILE), sorted.map((i) => `${lines.get(i)}\n`).join(''));
  return { points: first.points, merged: sorted.length, missing: first.points - sorted.length };
}
