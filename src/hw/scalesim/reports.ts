/**
 * SCALE-Sim v2's three report files, byte for byte in its format, so a SCALE-Sim user can diff a
 * vitsim run against a SCALE-Sim run: its column headers, `, ` between fields, a trailing comma on
 * every line, and numbers printed the way Python's str() prints them (counts as integers, ratios and
 * cycle stamps that SCALE-Sim holds as floats with a `.0`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { UserError } from '../../config/errors.js';
import type { Accesses, ScaleSimResult } from './model.js';

export const COMPUTE_REPORT = 'COMPUTE_REPORT.csv';
export const BANDWIDTH_REPORT = 'BANDWIDTH_REPORT.csv';
export const DETAILED_ACCESS_REPORT = 'DETAILED_ACCESS_REPORT.csv';

const COMPUTE_COLUMNS = ['LayerID', 'Total Cycles', 'Stall Cycles', 'Overall Util %', 'Mapping Efficiency %', 'Compute Util %'];
const BANDWIDTH_COLUMNS = [
  'LayerID',
  'Avg IFMAP SRAM BW', 'Avg FILTER SRAM BW', 'Avg OFMAP SRAM BW',
  'Avg IFMAP DRAM BW', 'Avg FILTER DRAM BW', 'Avg OFMAP DRAM BW',
];
const DETAILED_COLUMNS = [
  'LayerID',
  'SRAM IFMAP Start Cycle', 'SRAM IFMAP Stop Cycle', 'SRAM IFMAP Reads',
  'SRAM Filter Start Cycle', 'SRAM Filter Stop Cycle', 'SRAM Filter Reads',
  'SRAM OFMAP Start Cycle', 'SRAM OFMAP Stop Cycle', 'SRAM OFMAP Writes',
  'DRAM IFMAP Start Cycle', 'DRAM IFMAP Stop Cycle', 'DRAM IFMAP Reads',
  'DRAM Filter Start Cycle', 'DRAM Filter Stop Cycle', 'DRAM Filter Reads',
  'DRAM OFMAP Start Cycle', 'DRAM OFMAP Stop Cycle', 'DRAM OFMAP Writes',
];

/** The three reports' text for the layers of one topology, in file order (LayerID 0, 1, …). */
export function scaleSimReports(results: readonly ScaleSimResult[]): Record<string, string> {
  const compute = results.map((r) => [
    int(r.totalCycles), int(r.stallCycles), pyFloat(r.overallUtilPct), pyFloat(r.mappingEfficiencyPct), pyFloat(r.computeUtilPct),
  ]);
  const bandwidth = results.map((r) => [
    r.sramBandwidth.ifmap, r.sramBandwidth.filter, r.sramBandwidth.ofmap,
    r.dramBandwidth.ifmap, r.dramBandwidth.filter, r.dramBandwidth.ofmap,
  ].map(pyFloat));
  const access = (a: Accesses) => [pyFloat(a.startCycle), pyFloat(a.stopCycle), int(a.count)];
  const detailed = results.map((r) => [
    ...access(r.sram.ifmap), ...access(r.sram.filter), ...access(r.sram.ofmap),
    ...access(r.dram.ifmap), ...access(r.dram.filter), ...access(r.dram.ofmap),
  ]);
  return {
    [COMPUTE_REPORT]: table(COMPUTE_COLUMNS, compute),
    [BANDWIDTH_REPORT]: table(BANDWIDTH_COLUMNS, bandwidth),
    [DETAILED_ACCESS_REPORT]: table(DETAILED_COLUMNS, detailed),
  };
}

/** Writes the three reports into `dir` (created if needed) and returns their paths. */
export function writeScaleSimReports(dir: string, results: readonly ScaleSimResult[]): string[] {
  try {
    mkdirSync(dir, { recursive: true });
    return Object.entries(scaleSimReports(results)).map(([name, text]) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    throw new UserError(`${dir}: cannot write the reports there (${code})`);
  }
}

/**
 * SCALE-Sim writes `LayerID, a, b,` — fields joined by ", " and a trailing comma. As CSV that is a
 * leading space on every field after the first and an empty last field.
 */
function table(columns: string[], rows: string[][]): string {
  const records = [columns, ...rows.map((row, layerId) => [String(layerId), ...row])].map((record) => [
    record[0],
    ...record.slice(1).map((field) => ` ${field}`),
    '',
  ]);
  return stringify(records);
}

function int(value: number): string {
  return String(value);
}

/** A number as Python's str(float) prints it: shortest round-trip digits, `.0` on whole numbers, e-notation below 1e-4 and from 1e16. */
export function pyFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  const [mantissa, exponentText] = Math.abs(value).toExponential().split('e');
  const exponent = Number(exponentText);
  const digits = mantissa.replace('.', '');
  if (exponent < -4 || exponent >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const whole = exponent + 1;
  if (digits.length <= whole) return `${sign}${digits}${'0'.repeat(whole - digits.length)}.0`;
  return `${sign}${digits.slice(0, whole)}.${digits.slice(whole)}`;
}
