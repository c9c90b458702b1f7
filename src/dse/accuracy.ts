/**
 * Where a point's accuracy comes from (spec `accuracy.source`):
 * - `literature`: cited ImageNet top-1 tables (workloads/accuracy/*.csv, one source per row) for
 *   models that cannot be run here, looked up by (workload name, method, W bits, A bits, mixed);
 *   a point the tables do not cover gets null, never an interpolation.
 * - `measured`: the integer engine on the workload's shipped checkpoint (measured.ts), cached by
 *   quantisation config.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../config/errors.js';
import type { AccuracyLookup, AccuracyValue } from './accuracy-lookup.js';
import { measuredAccuracy } from './measured.js';
import type { SweepSpec } from './spec.js';

export function accuracySource(spec: SweepSpec, cacheDir: string | undefined): AccuracyLookup {
  switch (spec.accuracy.source) {
    case 'none':
      return async () => null;
    case 'literature': {
      const table = literatureTable(spec.accuracy.tables);
      return async (q, model) => table.get(literatureKey(model, q.method, q.wbits, q.abits, q.mixed)) ?? null;
    }
    case 'measured':
      return measuredAccuracy(spec, spec.accuracy, cacheDir);
  }
}

export interface LiteratureRow {
  model: string;
  method: string;
  wbits: number;
  abits: number;
  mixed: boolean;
  top1: number;
  /** The paper's own float baseline, when it prints one. */
  fpTop1: number | null;
  source: string;
}

const COLUMNS = ['model', 'method', 'wbits', 'abits', 'mixed', 'top1', 'fp_top1', 'source'];

/** Every row of the given tables, by lookup key; a key given twice is refused. */
export function literatureTable(files: string[]): Map<string, AccuracyValue> {
  const table = new Map<string, AccuracyValue>();
  for (const file of files) {
    for (const row of readLiterature(file)) {
      const key = literatureKey(row.model, row.method, row.wbits, row.abits, row.mixed);
      if (table.has(key)) throw new UserError(`${file}: ${row.model} ${row.method} W${row.wbits}A${row.abits}${row.mixed ? ' mixed' : ''} is given twice across the accuracy tables`);
      table.set(key, { top1: row.top1, source: row.source });
    }
  }
  return table;
}

/** Reads one literature table; every row must carry its source. */
export function readLiterature(file: string): LiteratureRow[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`${file}: cannot read file (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = csvFields(lines[0] ?? '');
  if (header.join(',') !== COLUMNS.join(',')) throw new UserError(`${file}: the header must be ${COLUMNS.join(',')}, got ${lines[0] ?? 'nothing'}`);
  return lines.slice(1).map((line, i) => {
    const where = `${file}: row ${i + 2}`;
    const f = csvFields(line);
    if (f.length !== COLUMNS.length) throw new UserError(`${where} must have ${COLUMNS.length} fields, got ${f.length}`);
    const [model, method, w, a, mixed, top1, fp, source] = f;
    const int = (s: string, col: string): number => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new UserError(`${where}: ${col} must be a positive integer, got ${JSON.stringify(s)}`);
      return n;
    };
    const percent = (s: string, col: string): number => {
      const n = Number(s);
      if (s === '' || !(n >= 0 && n <= 100)) throw new UserError(`${where}: ${col} must be a percentage from 0 to 100, got ${JSON.stringify(s)}`);
      return n;
    };
    if (mixed !== 'true' && mixed !== 'false') throw new UserError(`${where}: mixed must be true or false, got ${JSON.stringify(mixed)}`);
    if (source.trim() === '') throw new UserError(`${where}: source is empty; every accuracy needs its citation`);
    return { model, method, wbits: int(w, 'wbits'), abits: int(a, 'abits'), mixed: mixed === 'true', top1: percent(top1, 'top1'), fpTop1: fp === '' ? null : percent(fp, 'fp_top1'), source };
  });
}

function literatureKey(model: string, method: string, wbits: number, abits: number, mixed: boolean): string {
  return `${model}|${method}|${wbits}|${abits}|${mixed}`;
}

/** The fields of one CSV line: commas separate, double quotes enclose, "" inside quotes is a quote. */
function csvFields(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c !== '\r') {
      field += c;
    }
  }
  fields.push(field);
  return fields;
}
