/**
 * SCALE-Sim v2 GEMM topology files: a header line, then one `name, M, N, K,` row per layer.
 * SCALE-Sim computes C[M,N] = A[M,K] · B[K,N], the same convention as vitsim's Gemm.
 *
 * SCALE-Sim itself drops the last comma-separated field of every row, so its files end each row with
 * a comma. vitsim accepts the trailing comma and also a row without it (where SCALE-Sim would
 * silently lose K); anything else that is not four fields is refused with the row's line number.
 */
import { checkGemm, type Gemm } from '../gemm.js';
import { describe, UserError } from '../../config/errors.js';
import { readTextFile } from './config.js';

/** One row of a topology file. */
export interface TopologyLayer {
  name: string;
  gemm: Gemm;
  /** 1-based line in the file, for messages that point back at it. */
  line: number;
}

export function loadTopology(file: string): TopologyLayer[] {
  return parseTopology(readTextFile(file), file);
}

/** Column names in the order the file holds them. */
const COLUMNS = ['Layer', 'M', 'N', 'K'] as const;

/**
 * Parses the text of a GEMM topology file; `file` is used only in error messages.
 * The first non-blank line is the header (as in SCALE-Sim) unless its size columns are all numbers,
 * in which case there is no header and the line is a layer.
 */
export function parseTopology(text: string, file: string): TopologyLayer[] {
  const layers: TopologyLayer[] = [];
  const lines = text.split(/\r\n|\n|\r/);
  let headerSeen = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length > COLUMNS.length && fields[fields.length - 1] === '') fields.pop();
    if (!headerSeen) {
      headerSeen = true;
      if (!fields.slice(1, 4).every((f) => /^\+?\d+$/.test(f)) || fields.length !== COLUMNS.length) continue;
    }
    layers.push(parseRow(fields, file, i + 1));
  }
  if (layers.length === 0) throw new UserError(`${file}: has no layers (expected a header, then rows "name, M, N, K,")`);
  return layers;
}

function parseRow(fields: string[], file: string, line: number): TopologyLayer {
  const where = `${file}: row ${line}`;
  if (fields.length < COLUMNS.length) {
    throw new UserError(`${where}: column ${COLUMNS[fields.length]} is missing (expected "name, M, N, K,")`);
  }
  if (fields.length > COLUMNS.length) {
    throw new UserError(`${where}: has ${fields.length} columns, expected 4 ("name, M, N, K,"); convolution topologies are not supported`);
  }
  const [name, m, n, k] = fields;
  return { name, gemm: checkGemm({ m: dimension(m, where, 'M'), n: dimension(n, where, 'N'), k: dimension(k, where, 'K') }, where), line };
}

/** A size as Python's int() would read it, but only positive values make a GEMM. */
function dimension(text: string, where: string, column: string): number {
  if (text === '') throw new UserError(`${where}: column ${column} is missing (expected "name, M, N, K,")`);
  const value = /^\+?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value <= 0) throw new UserError(`${where}: ${column} must be a positive integer, got ${describe(text)}`);
  return value;
}
