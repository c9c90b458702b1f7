/** Cost quantities for people: SI inside, pJ / mW / mm² / µm² only when printed. */
import { formatSI } from '../config/units.js';
import type { AreaBreakdown, EnergyBreakdown } from './price.js';
import type { Row } from './tables.js';

/** Energies of single actions print in pJ (the unit of every table), larger ones with an SI prefix. */
export function formatEnergy(joules: number): string {
  const magnitude = Math.abs(joules);
  if (magnitude > 0 && magnitude < 1e-9) return `${Number((joules * 1e12).toPrecision(4))} pJ`;
  return formatSI(joules, 'J');
}

export function formatPower(watts: number): string {
  return formatSI(watts, 'W');
}

/** Areas print in mm² from 0.01 mm² up and in µm² below, the units layouts and synthesis reports use. */
export function formatArea(m2: number): string {
  const mm2 = m2 * 1e6;
  if (mm2 >= 0.01) return `${Number(mm2.toPrecision(4))} mm²`;
  return `${Number((m2 * 1e12).toPrecision(4))} µm²`;
}

/** A table row's value in the units its source uses. */
export function formatRow(row: Row): string {
  switch (row.unit) {
    case 'J':
      return formatEnergy(row.value);
    case 'J/bit':
      return `${formatEnergy(row.value)}/bit`;
    case 'W':
      return formatPower(row.value);
    case 'm²':
      return formatArea(row.value);
    case 'V':
      return `${row.value} V`;
    case 'factor':
      return `×${row.value}`;
  }
}

/**
 * The energy table `vitsim simulate` prints: one line per component (dynamic, leakage, total, share),
 * the total, and what zero gating saved — the data-dependent part no other tool reports.
 */
export function energyReport(e: EnergyBreakdown): string[] {
  const rows = e.components.map((c) => [c.component, formatEnergy(c.dynamicJ), formatEnergy(c.leakageJ), formatEnergy(c.dynamicJ + c.leakageJ), percent(c.dynamicJ + c.leakageJ, e.totalJ)]);
  const lines = table(['component', 'dynamic', 'leakage', 'total', 'share'], rows);
  lines.push(`total ${formatEnergy(e.totalJ)} over ${formatSI(e.latencySeconds, 's')} at ${e.scaling.nm} nm, ${e.scaling.volts} V`);
  const g = e.zeroGating;
  lines.push(
    g.enabled
      ? `zero gating: ${percent(g.gatedMacs, g.macs)} of ${g.macs.toExponential(3)} MACs had a zero operand and were gated, saving ${formatEnergy(g.savedJ)} in the PE array (net of zero detection)`
      : 'zero gating: off (MACs with a zero operand are priced in full)',
  );
  return [...lines, ...e.notes.map((n) => `note: ${n}`)];
}

/** The area table: one line per component in mm² with its share, then the total. */
export function areaReport(a: AreaBreakdown): string[] {
  const rows = a.components.map((c) => [c.component, formatArea(c.areaM2), percent(c.areaM2, a.totalM2)]);
  return [...table(['component', 'area', 'share'], rows), `total ${formatArea(a.totalM2)} at ${a.scaling.nm} nm`, ...a.notes.map((n) => `note: ${n}`)];
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${Number(((100 * part) / whole).toPrecision(3))}%`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const render = (r: string[]): string => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  return [render(header), ...rows.map(render)];
}
