/**
 * SCALE-Sim v2 `.cfg` files (Python configparser INI), read so SCALE-Sim users can point vitsim at the
 * configs they already have. Keys are matched case-insensitively, as configparser does; sections by
 * name. Keys SCALE-Sim does not read in GEMM mode (MemoryBanks, sparsity, layout, Ramulator…) are
 * accepted and ignored.
 */
import { readFileSync } from 'node:fs';
import { DATAFLOWS, type Dataflow } from '../arch.js';
import { describe, fieldError, UserError } from '../../config/errors.js';

/** `CALC`: SCALE-Sim sizes DRAM bandwidth so nothing stalls; `USER`: the config's Bandwidth applies. */
export type InterfaceBandwidth = 'CALC' | 'USER';

/** One SCALE-Sim run configuration, in SCALE-Sim's own units (kB = 1024 bytes, words per cycle). */
export interface ScaleSimConfig {
  runName: string;
  arrayRows: number;
  arrayCols: number;
  ifmapSramKB: number;
  filterSramKB: number;
  ofmapSramKB: number;
  ifmapOffset: number;
  filterOffset: number;
  ofmapOffset: number;
  dataflow: Dataflow;
  interfaceBandwidth: InterfaceBandwidth;
  /**
   * Words per cycle between DRAM and each of the three SRAMs (SCALE-Sim uses the first value of the
   * Bandwidth list for all of them). Read in USER mode; undefined when a CALC config omits it.
   */
  bandwidthWordsPerCycle: number | undefined;
}

/** Reads and parses a SCALE-Sim config file; every problem is one UserError line naming file and key. */
export function loadScaleSimConfig(file: string): ScaleSimConfig {
  return parseScaleSimConfig(readTextFile(file), file);
}

/** Parses the text of a SCALE-Sim config; `file` is used only in error messages. */
export function parseScaleSimConfig(text: string, file: string): ScaleSimConfig {
  const ini = parseIni(text, file);
  const arch = 'architecture_presets';
  const mode = requiredKey(ini, file, 'run_presets', 'InterfaceBandwidth').toUpperCase();
  if (mode !== 'CALC' && mode !== 'USER') throw fieldError(file, 'run_presets.InterfaceBandwidth', 'CALC or USER', mode);
  const dataflow = requiredKey(ini, file, arch, 'Dataflow').toLowerCase();
  if (!(DATAFLOWS as readonly string[]).includes(dataflow)) {
    throw fieldError(file, `${arch}.Dataflow`, 'one of os, ws, is', dataflow);
  }
  const bandwidthText = optionalKey(ini, arch, 'Bandwidth');
  if (mode === 'USER' && bandwidthText === undefined) {
    throw new UserError(`${file}: ${arch}.Bandwidth is required when InterfaceBandwidth is USER`);
  }
  return {
    runName: optionalKey(ini, 'general', 'run_name') ?? 'scale_run',
    arrayRows: positiveInt(ini, file, arch, 'ArrayHeight'),
    arrayCols: positiveInt(ini, file, arch, 'ArrayWidth'),
    ifmapSramKB: positiveInt(ini, file, arch, 'IfmapSramSzkB'),
    filterSramKB: positiveInt(ini, file, arch, 'FilterSramSzkB'),
    ofmapSramKB: positiveInt(ini, file, arch, 'OfmapSramSzkB'),
    // SCALE-Sim only uses the offsets to tell the operands apart in its traces; its defaults apply.
    ifmapOffset: offset(ini, file, arch, 'IfmapOffset', 0),
    filterOffset: offset(ini, file, arch, 'FilterOffset', 10_000_000),
    ofmapOffset: offset(ini, file, arch, 'OfmapOffset', 20_000_000),
    dataflow: dataflow as Dataflow,
    interfaceBandwidth: mode,
    bandwidthWordsPerCycle: bandwidthText === undefined ? undefined : bandwidth(bandwidthText, file, `${arch}.Bandwidth`),
  };
}

/** section → (lower-cased key → value), in the file's order. */
type Ini = Map<string, Map<string, string>>;

/**
 * The subset of configparser SCALE-Sim configs use: `[section]` headers, `key = value` or
 * `key : value`, whole-line comments with `#` or `;`, blank lines. A key outside any section or a
 * key given twice in one section is refused (configparser refuses both too).
 */
function parseIni(text: string, file: string): Ini {
  const ini: Ini = new Map();
  let section: Map<string, string> | undefined;
  let sectionName = '';
  const lines = text.split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]*)\]$/.exec(line);
    if (header) {
      sectionName = header[1].trim();
      section = ini.get(sectionName) ?? new Map<string, string>();
      ini.set(sectionName, section);
      continue;
    }
    const sep = line.search(/[=:]/);
    if (sep <= 0) throw new UserError(`${file}: line ${i + 1} must be "[section]" or "key = value", got ${describe(line)}`);
    if (!section) throw new UserError(`${file}: line ${i + 1} has a key before any [section] header`);
    const key = line.slice(0, sep).trim().toLowerCase();
    if (section.has(key)) throw new UserError(`${file}: line ${i + 1}: ${sectionName}.${line.slice(0, sep).trim()} is given twice`);
    section.set(key, line.slice(sep + 1).trim());
  }
  return ini;
}

function optionalKey(ini: Ini, section: string, key: string): string | undefined {
  return ini.get(section)?.get(key.toLowerCase());
}

function requiredKey(ini: Ini, file: string, section: string, key: string): string {
  const value = optionalKey(ini, section, key);
  if (value === undefined) {
    throw new UserError(`${file}: ${section}.${key} is missing${ini.has(section) ? '' : ` (no [${section}] section)`}`);
  }
  return value;
}

/** SCALE-Sim reads sizes with Python's int(): optional sign, decimal digits, nothing else. */
function parseIntStrict(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

function positiveInt(ini: Ini, file: string, section: string, key: string): number {
  const text = requiredKey(ini, file, section, key);
  const value = parseIntStrict(text);
  if (value === undefined || value <= 0) throw fieldError(file, `${section}.${key}`, 'a positive integer', text);
  return value;
}

function offset(ini: Ini, file: string, section: string, key: string, fallback: number): number {
  const text = optionalKey(ini, section, key);
  if (text === undefined) return fallback;
  const value = parseIntStrict(text);
  if (value === undefined || value < 0) throw fieldError(file, `${section}.${key}`, 'a non-negative integer', text);
  return value;
}

/** `10` or `10,10,10` (one per memory bank); SCALE-Sim uses the first for every buffer. */
function bandwidth(text: string, file: string, field: string): number {
  const values = text.split(',').map((part) => parseIntStrict(part.trim()));
  const first = values[0];
  if (first === undefined || values.some((v) => v === undefined || v <= 0)) {
    throw fieldError(file, field, 'a positive integer number of words per cycle (or a comma-separated list of them)', text);
  }
  return first;
}

/** Reads a text file, turning a missing or unreadable file into one UserError line. */
export function readTextFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read file (${code === 'ENOENT' ? 'no such file' : code ?? 'unknown error'})`);
  }
}
