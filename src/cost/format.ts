/** Cost quantities for people: SI inside, pJ / mW / mm² / µm² only when printed. */
import { formatSI } from '../config/units.js';
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
