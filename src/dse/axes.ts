/**
 * The axes a sweep may vary, named by the arch file field they set (`array.rows`, `sram.ifmap`, `clock`
 * …) or by the quantisation choice (`quant.method`, `quant.wbits` …), and how an axis's values are
 * written: a list, an arithmetic range, or a geometric range (sizes, bandwidths, clocks).
 */
import { describe, fieldError, UserError } from '../config/errors.js';
import { formatBytes, formatSI, parseQuantity, type Quantity } from '../config/units.js';
import { DATAFLOWS, DRAM_TYPES, OVERLAPS, PE_KINDS } from '../hw/arch.js';
import { MAX_BITS } from '../trace/ops.js';
import type { ParamValue } from './result.js';

/** Quantisation methods a point may name: the ones vitsim implements, then those only the literature tables know. */
export const SWEEP_METHODS = ['uniform', 'ptq4vit', 'noisyquant', 'liu2021', 'n2uq', 'ofq', 'lsq', 'i-vit', 'fq-vit'] as const;
export type SweepMethod = (typeof SWEEP_METHODS)[number];

type AxisKind =
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'choice'; choices: readonly string[] }
  | { kind: 'quantity'; quantity: Quantity };

export interface AxisDefinition {
  /** What the axis changes: the arch file, the quantisation of the trace, or the workload's batch. */
  target: 'arch' | 'quant' | 'workload';
  describe: string;
  type: AxisKind;
}

const int = (min: number, max: number): AxisKind => ({ kind: 'integer', min, max });
const bits: AxisKind = int(1, MAX_BITS);

/** Every axis, by name. */
export const AXES: Readonly<Record<string, AxisDefinition>> = {
  'array.rows': { target: 'arch', describe: 'PE rows', type: int(1, 65536) },
  'array.cols': { target: 'arch', describe: 'PE columns', type: int(1, 65536) },
  'array.dataflow': { target: 'arch', describe: 'os, ws or is', type: { kind: 'choice', choices: DATAFLOWS } },
  'pe.kind': { target: 'arch', describe: 'fixed or bitfusion', type: { kind: 'choice', choices: PE_KINDS } },
  'pe.bits': { target: 'arch', describe: 'native activation and weight bits of a PE (both)', type: bits },
  'pe.actBits': { target: 'arch', describe: 'native activation bits of a PE', type: bits },
  'pe.weightBits': { target: 'arch', describe: 'native weight bits of a PE', type: bits },
  'pe.accBits': { target: 'arch', describe: 'accumulator bits of a PE', type: int(1, 64) },
  'sram.ifmap': { target: 'arch', describe: 'ifmap SRAM size', type: { kind: 'quantity', quantity: 'bytes' } },
  'sram.filter': { target: 'arch', describe: 'filter SRAM size', type: { kind: 'quantity', quantity: 'bytes' } },
  'sram.ofmap': { target: 'arch', describe: 'ofmap SRAM size', type: { kind: 'quantity', quantity: 'bytes' } },
  'dram.type': { target: 'arch', describe: 'DRAM technology', type: { kind: 'choice', choices: DRAM_TYPES } },
  'dram.bandwidth': { target: 'arch', describe: 'DRAM bandwidth', type: { kind: 'quantity', quantity: 'bytesPerSecond' } },
  clock: { target: 'arch', describe: 'array clock', type: { kind: 'quantity', quantity: 'hertz' } },
  technology: { target: 'arch', describe: 'technology node', type: { kind: 'quantity', quantity: 'metres' } },
  'vector.lanes': { target: 'arch', describe: 'vector-unit lanes', type: int(1, 65536) },
  overlap: { target: 'arch', describe: 'serial or overlapped side work', type: { kind: 'choice', choices: OVERLAPS } },
  activations: { target: 'arch', describe: 'dram or on-chip activations', type: { kind: 'choice', choices: ['dram', 'on-chip'] } },
  'quant.method': { target: 'quant', describe: 'quantisation method', type: { kind: 'choice', choices: SWEEP_METHODS } },
  'quant.bits': { target: 'quant', describe: 'weight and activation bits (both)', type: bits },
  'quant.wbits': { target: 'quant', describe: 'weight bits', type: bits },
  'quant.abits': { target: 'quant', describe: 'activation bits', type: bits },
  'quant.budget': { target: 'quant', describe: 'mixed-precision budget: mean weight and activation bits', type: bits },
  batch: { target: 'workload', describe: 'images per inference', type: int(1, 1 << 20) },
};

export const AXIS_NAMES = Object.keys(AXES);

/** An axis as a sweep file writes it: exactly one of values, range, geometric. */
export interface AxisSpec {
  name: string;
  values?: ParamValue[];
  /** from, from + step, … up to and including `to` when it falls on the grid (step 1 unless given). */
  range?: { from: number; to: number; step?: number };
  /** from, from · factor, … up to `to`; quantities may be strings with units (`"32 KiB"`). */
  geometric?: { from: number | string; to: number | string; factor: number };
}

/**
 * The values of one axis, each checked against its type. Quantities keep
 * their unit strings (they are applied to arch files as written); a geometric range of a quantity
 * yields strings like `"64 KiB"` or `"1.6 GHz"`. Messages name `file` and the axis's `field` (`axes[2]`).
 */
export function axisValues(axis: AxisSpec, file: string, field: string): ParamValue[] {
  const where = `${file}: ${field}`;
  const def = AXES[axis.name];
  if (def === undefined) throw new UserError(`${where}.name is not a known axis, got ${describe(axis.name)} (axes: ${AXIS_NAMES.join(', ')})`);
  const given = [axis.values, axis.range, axis.geometric].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UserError(`${where} must give exactly one of values, range, geometric (${axis.name})`);
  let values: ParamValue[];
  if (axis.values !== undefined) {
    values = axis.values;
  } else if (axis.range !== undefined) {
    values = arithmetic(axis.range, file, field);
  } else {
    values = geometric(axis.geometric as NonNullable<AxisSpec['geometric']>, def.type, file, field);
  }
  if (values.length === 0) throw new UserError(`${where} (${axis.name}) has an empty range: no values`);
  values.forEach((v, i) => checkValue(def.type, v, file, `${field}.values[${i}] (${axis.name})`));
  const seen = new Set(values.map((v) => JSON.stringify(v)));
  if (seen.size !== values.length) throw new UserError(`${where} (${axis.name}) lists a value twice`);
  return values;
}

function arithmetic(range: NonNullable<AxisSpec['range']>, file: string, field: string): number[] {
  const where = `${file}: ${field}`;
  const step = range.step ?? 1;
  if (!(step > 0)) throw fieldError(file, `${field}.range.step`, 'a number greater than zero', step);
  const values: number[] = [];
  // Counting steps instead of adding keeps 0.1-sized steps from drifting past `to`.
  for (let i = 0; range.from + i * step <= range.to + 1e-9 * Math.abs(step); i++) {
    values.push(Number((range.from + i * step).toPrecision(12)));
    if (values.length > 1e6) throw new UserError(`${where}.range gives more than a million values`);
  }
  return values;
}

function geometric(g: NonNullable<AxisSpec['geometric']>, type: AxisKind, file: string, field: string): ParamValue[] {
  const where = `${file}: ${field}`;
  if (!(g.factor > 1)) throw fieldError(file, `${field}.geometric.factor`, 'a number greater than 1', g.factor);
  const quantity = type.kind === 'quantity' ? type.quantity : undefined;
  const toNumber = (v: number | string, end: string): number => {
    if (typeof v === 'number') return v;
    if (quantity === undefined) throw fieldError(file, `${field}.geometric.${end}`, 'a number', v);
    return parseQuantity(v, quantity, file, `${field}.geometric.${end}`);
  };
  const from = toNumber(g.from, 'from');
  const to = toNumber(g.to, 'to');
  const values: ParamValue[] = [];
  for (let i = 0; from * g.factor ** i <= to * (1 + 1e-9); i++) {
    const v = Number((from * g.factor ** i).toPrecision(12));
    values.push(quantity === undefined ? v : formatQuantity(v, quantity));
    if (values.length > 1e6) throw new UserError(`${where}.geometric gives more than a million values`);
  }
  return values;
}

/** A unit string mathjs reads back to the same SI number. */
function formatQuantity(si: number, quantity: Quantity): string {
  if (quantity === 'bytes') return formatBytes(si);
  const symbol = { hertz: 'Hz', bytesPerSecond: 'B/s', metres: 'm', volts: 'V', seconds: 's', watts: 'W', joules: 'J' }[quantity];
  return formatSI(si, symbol, 12).replace('µ', 'u');
}

function checkValue(type: AxisKind, v: ParamValue, file: string, field: string): void {
  switch (type.kind) {
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < type.min || v > type.max) throw fieldError(file, field, `an integer from ${type.min} to ${type.max}`, v);
      return;
    case 'choice':
      if (typeof v !== 'string' || !type.choices.includes(v)) throw fieldError(file, field, `one of ${type.choices.map((c) => JSON.stringify(c)).join(', ')}`, v);
      return;
    case 'quantity':
      parseQuantity(v, type.quantity, file, field);
      return;
  }
}
