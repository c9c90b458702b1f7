/**
 * Quantities with units at the edges, SI numbers inside.
 * Strings such as "256 KiB", "1 GHz", "25.6 GB/s" or "28 nm" are parsed with mathjs' unit
 * parser — never with `evaluate`, so a config file can never run an expression.
 */
import { unit, type Unit } from 'mathjs';
import { fieldError } from './errors.js';

export type Quantity = 'bytes' | 'hertz' | 'bytesPerSecond' | 'metres' | 'volts' | 'seconds' | 'watts' | 'joules';

const EXAMPLES: Record<Quantity, string> = {
  bytes: 'a size such as "256 KiB"',
  hertz: 'a frequency such as "1 GHz"',
  bytesPerSecond: 'a bandwidth such as "25.6 GB/s"',
  metres: 'a length such as "28 nm"',
  volts: 'a voltage such as "0.9 V"',
  seconds: 'a time such as "10 ns"',
  watts: 'a power such as "2 W"',
  joules: 'an energy such as "0.2 pJ"',
};

/** The SI unit each quantity is checked against (mathjs stores information in bits). */
const BASE: Record<Quantity, string> = {
  bytes: 'B',
  hertz: 'Hz',
  bytesPerSecond: 'B/s',
  metres: 'm',
  volts: 'V',
  seconds: 's',
  watts: 'W',
  joules: 'J',
};

/**
 * Parses `text` as a quantity of the given kind and returns its SI value
 * (bytes for sizes, bytes per second for bandwidths). Throws a UserError naming file and field.
 */
export function parseQuantity(text: unknown, kind: Quantity, file: string, field: string): number {
  const expected = EXAMPLES[kind];
  if (typeof text !== 'string') throw fieldError(file, field, expected, text);
  let parsed: Unit;
  try {
    parsed = unit(text.trim());
  } catch {
    throw fieldError(file, field, expected, text);
  }
  const base = unit(BASE[kind]);
  if (!parsed.equalBase(base) || parsed.value === null) throw fieldError(file, field, expected, text);
  const si = parsed.toNumber(BASE[kind]);
  if (!Number.isFinite(si) || si <= 0) throw fieldError(file, field, `${expected} greater than zero`, text);
  return si;
}

/** Formats an SI number with a binary or decimal prefix for people. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1 && value % 1024 === 0) {
    value /= 1024;
    i++;
  }
  return `${value} ${units[i]}`;
}

/** Formats a number with an SI prefix, e.g. formatSI(7e8, 'Hz') = "700 MHz". */
export function formatSI(value: number, symbol: string, digits = 4): string {
  if (value === 0) return `0 ${symbol}`;
  const prefixes: [number, string][] = [
    [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k'], [1, ''], [1e-3, 'm'], [1e-6, 'µ'], [1e-9, 'n'], [1e-12, 'p'], [1e-15, 'f'],
  ];
  const magnitude = Math.abs(value);
  const [factor, prefix] = prefixes.find(([f]) => magnitude >= f) ?? prefixes[prefixes.length - 1];
  return `${Number((value / factor).toPrecision(digits))} ${prefix}${symbol}`;
}
