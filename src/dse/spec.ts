/**
 * Sweep files (sweeps/*.json, schema sweeps/sweep.schema.json): a base design, a workload, axes,
 * constraints, objectives, a sampling plan and an accuracy source. Reading one checks everything a
 * run would trip on later — every axis value is applied to the base design once — so a bad spec is
 * refused with one line before any point is computed.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, UserError } from '../config/errors.js';
import { POST_TRAINING_METHODS } from '../quant/spec.js';
import { readJsonFile, validateWithSchema } from '../config/schema.js';
import { axisValues, SWEEP_METHODS, type AxisSpec, type SweepMethod } from './axes.js';
import { loadWorkload } from '../trace/workload.js';
import { checkDesignAxes, type QuantBase } from './design.js';
import { METRICS, type Metric, type ParamValue } from './result.js';

export const SWEEPS_DIR = fileURLToPath(new URL('../../sweeps/', import.meta.url));
const SCHEMA_FILE = join(SWEEPS_DIR, 'sweep.schema.json');

export interface Constraint {
  /** Reported in `violated`; default e.g. `areaMm2 <= 50`. */
  name: string;
  metric: Metric;
  min?: number;
  max?: number;
}

export interface Objective {
  metric: Metric;
  goal: 'min' | 'max';
}

export type Sampling =
  | { kind: 'grid' }
  | { kind: 'random'; points: number; seed: number }
  | { kind: 'nsga2'; population: number; generations: number; seed: number; crossover: number; mutation: number };

export type AccuracySpec =
  | { source: 'none' }
  | { source: 'literature'; tables: string[] }
  | { source: 'measured'; images: number; calibration: number; seed: number; cacheDir?: string };

/** A validated sweep, defaults filled, paths absolute. */
export interface SweepSpec {
  name: string;
  description: string;
  base: string;
  workload: string;
  batch?: number;
  quant: QuantBase;
  axes: AxisSpec[];
  constraints: Constraint[];
  objectives: Objective[];
  sampling: Sampling;
  accuracy: AccuracySpec;
}

/** The shipped literature tables. */
export const ACCURACY_DIR = fileURLToPath(new URL('../../workloads/accuracy/', import.meta.url));

/** Values a metric can take at all: a constraint outside them can never be met. */
const METRIC_DOMAIN: Record<Metric, { min: number; minOpen: boolean; max: number }> = {
  latencyS: { min: 0, minOpen: true, max: Infinity },
  energyJ: { min: 0, minOpen: true, max: Infinity },
  areaMm2: { min: 0, minOpen: true, max: Infinity },
  accuracy: { min: 0, minOpen: false, max: 100 },
  throughputIps: { min: 0, minOpen: true, max: Infinity },
  effectiveTops: { min: 0, minOpen: true, max: Infinity },
  peakTops: { min: 0, minOpen: true, max: Infinity },
  macs: { min: 0, minOpen: true, max: Infinity },
  dramBytes: { min: 0, minOpen: false, max: Infinity },
  cycles: { min: 0, minOpen: true, max: Infinity },
};

/** Reads and checks a sweep file. */
export function loadSweep(file: string): SweepSpec {
  return parseSweep(readJsonFile(file), file);
}

/**
 * Checks a parsed sweep; `file` names it in messages and anchors relative paths. `resolved` says the
 * paths are already absolute (a spec read back from a run's sweep.json).
 */
export function parseSweep(data: unknown, file: string, options: { resolved?: boolean } = {}): SweepSpec {
  const raw = validateWithSchema<RawSweep>(data, sweepSchema(), file);
  const here = dirname(resolve(file));
  const path = (p: string): string => (options.resolved || isAbsolute(p) ? p : resolve(here, p));
  // A preset name stays a name; anything that looks like a path is taken relative to the sweep file.
  const fileOrName = (p: string): string => (/[/\\]|\.json$/.test(p) ? path(p) : p);

  const quant = quantBase(raw.quant ?? {}, file);
  const spec: SweepSpec = {
    name: raw.name,
    description: raw.description ?? '',
    base: fileOrName(raw.base),
    workload: fileOrName(raw.workload),
    ...(raw.batch === undefined ? {} : { batch: raw.batch }),
    quant,
    axes: raw.axes.map((a) => ({ ...a })),
    constraints: [],
    objectives: raw.objectives ?? [],
    sampling: sampling(raw.sampling ?? { kind: 'grid' }, raw.axes.length, file),
    accuracy: accuracy(raw.accuracy ?? { source: 'none' }, path, file),
  };

  const names = new Set<string>();
  const values = spec.axes.map((axis, i) => {
    const v = axisValues(axis, file, `axes[${i}]`);
    if (names.has(axis.name)) throw new UserError(`${file}: axes[${i}] varies ${axis.name} a second time`);
    names.add(axis.name);
    return v;
  });
  checkAxisCombinations(names, file);
  spec.constraints = (raw.constraints ?? []).map((c, i) => constraint(c, i, file));
  checkConstraintsTogether(spec, file);
  spec.objectives.forEach((o, i) => {
    checkMetric(o.metric, file, `objectives[${i}].metric`);
    if (spec.objectives.findIndex((p) => p.metric === o.metric) !== i) throw new UserError(`${file}: objectives[${i}] names ${o.metric} a second time`);
    if (o.metric === 'accuracy' && spec.accuracy.source === 'none') throw new UserError(`${file}: objectives[${i}] optimises accuracy, but accuracy.source is none`);
  });
  if (spec.sampling.kind === 'nsga2' && spec.objectives.length === 0) throw new UserError(`${file}: sampling nsga2 needs at least one objective to optimise`);
  if (spec.sampling.kind === 'random') {
    const size = values.reduce((n, v) => n * v.length, 1);
    if (spec.sampling.points > size) throw new UserError(`${file}: sampling.points asks for ${spec.sampling.points} distinct points, but the grid has only ${size}`);
  }
  checkDesignAxes(spec, spec.axes.map((a, i) => ({ name: a.name, values: values[i] })), file);
  if (spec.accuracy.source === 'measured') {
    const workload = loadWorkload(spec.workload);
    if (workload.checkpoint === undefined) {
      throw new UserError(`${file}: accuracy.source measured needs a workload with a shipped checkpoint; ${spec.workload} has none (use literature)`);
    }
    // A measurement quantizes the checkpoint post-training, which keeps its standard attention.
    if (workload.family === 'vit' && workload.attention === 'qkr') {
      throw new UserError(`${file}: accuracy.source measured quantizes ${spec.workload}'s checkpoint post-training, with standard attention, not QKR (QKR models come from vitsim qat --qkr; use literature or a standard workload)`);
    }
  }
  if (spec.accuracy.source === 'measured') checkMeasurableMethods(spec, values, file);
  return spec;
}

/** Every axis's values, in spec order. */
export function expandAxes(spec: SweepSpec): { name: string; values: ParamValue[] }[] {
  return spec.axes.map((axis, i) => ({ name: axis.name, values: axisValues(axis, spec.name, `axes[${i}]`) }));
}

/** The default name of a constraint: `areaMm2 <= 50`, `accuracy >= 75`, `10 <= cycles <= 20`. */
export function constraintName(c: { metric: string; min?: number; max?: number }): string {
  if (c.min !== undefined && c.max !== undefined) return `${c.min} <= ${c.metric} <= ${c.max}`;
  return c.max !== undefined ? `${c.metric} <= ${c.max}` : `${c.metric} >= ${c.min}`;
}

// ───────────────────────────── the parts ─────────────────────────────

interface RawSweep {
  name: string;
  description?: string;
  base: string;
  workload: string;
  batch?: number;
  quant?: { method?: string; wbits?: number; abits?: number; accBits?: number };
  axes: AxisSpec[];
  constraints?: { name?: string; metric: string; min?: number; max?: number }[];
  objectives?: Objective[];
  sampling?: { kind: Sampling['kind']; points?: number; seed?: number; population?: number; generations?: number; crossover?: number; mutation?: number };
  accuracy?: { source: AccuracySpec['source']; tables?: string[]; images?: number; calibration?: number; seed?: number; cacheDir?: string };
}

function quantBase(q: NonNullable<RawSweep['quant']>, file: string): QuantBase {
  const method = q.method ?? 'uniform';
  if (!(SWEEP_METHODS as readonly string[]).includes(method)) {
    throw new UserError(`${file}: quant.method must be one of ${SWEEP_METHODS.map((m) => JSON.stringify(m)).join(', ')}, got ${describe(method)}`);
  }
  return { method: method as SweepMethod, wbits: q.wbits ?? 8, abits: q.abits ?? 8, accBits: q.accBits ?? 32 };
}

function sampling(s: NonNullable<RawSweep['sampling']>, axes: number, file: string): Sampling {
  const need = (field: 'points' | 'population' | 'generations'): number => {
    const v = s[field];
    if (v === undefined) throw new UserError(`${file}: sampling.${field} is required for sampling ${s.kind}`);
    return v;
  };
  const unused = (fields: (keyof typeof s)[]): void => {
    for (const f of fields) if (s[f] !== undefined) throw new UserError(`${file}: sampling.${f} does not apply to sampling ${s.kind}`);
  };
  switch (s.kind) {
    case 'grid':
      unused(['points', 'seed', 'population', 'generations', 'crossover', 'mutation']);
      return { kind: 'grid' };
    case 'random':
      unused(['population', 'generations', 'crossover', 'mutation']);
      return { kind: 'random', points: need('points'), seed: s.seed ?? 0 };
    case 'nsga2':
      unused(['points']);
      return { kind: 'nsga2', population: need('population'), generations: need('generations'), seed: s.seed ?? 0, crossover: s.crossover ?? 0.9, mutation: s.mutation ?? 1 / axes };
  }
}

function accuracy(a: NonNullable<RawSweep['accuracy']>, path: (p: string) => string, file: string): AccuracySpec {
  const only = (fields: (keyof typeof a)[]): void => {
    for (const f of Object.keys(a) as (keyof typeof a)[]) {
      if (f !== 'source' && !fields.includes(f)) throw new UserError(`${file}: accuracy.${f} does not apply to accuracy.source ${a.source}`);
    }
  };
  switch (a.source) {
    case 'none':
      only([]);
      return { source: 'none' };
    case 'literature': {
      only(['tables']);
      const tables = a.tables === undefined ? shippedTables() : a.tables.map(path);
      tables.forEach((t, i) => {
        if (!existsSync(t)) throw new UserError(`${file}: accuracy.tables[${i}] names no file, got ${describe(t)}`);
      });
      return { source: 'literature', tables };
    }
    case 'measured':
      only(['images', 'calibration', 'seed', 'cacheDir']);
      return { source: 'measured', images: a.images ?? 1000, calibration: a.calibration ?? 256, seed: a.seed ?? 0, ...(a.cacheDir === undefined ? {} : { cacheDir: path(a.cacheDir) }) };
  }
}

function shippedTables(): string[] {
  return readdirSync(ACCURACY_DIR)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => join(ACCURACY_DIR, f));
}

function constraint(c: NonNullable<RawSweep['constraints']>[number], i: number, file: string): Constraint {
  const where = `constraints[${i}]`;
  checkMetric(c.metric, file, `${where}.metric`);
  const metric = c.metric as Metric;
  if (c.min === undefined && c.max === undefined) throw new UserError(`${file}: ${where} must give min or max (${metric})`);
  if (c.min !== undefined && c.max !== undefined && c.min > c.max) throw new UserError(`${file}: ${where} can never be met: min ${c.min} is above max ${c.max}`);
  const d = METRIC_DOMAIN[metric];
  const lo = c.min ?? -Infinity;
  const hi = c.max ?? Infinity;
  if (hi < d.min || (d.minOpen && hi <= d.min) || lo > d.max) {
    const range = `${d.minOpen ? '(' : '['}${d.min}, ${d.max === Infinity ? '∞)' : `${d.max}]`}`;
    throw new UserError(`${file}: ${where} can never be met: ${metric} lies in ${range}, the constraint asks for ${constraintName(c)}`);
  }
  return { name: c.name ?? constraintName(c), metric, ...(c.min === undefined ? {} : { min: c.min }), ...(c.max === undefined ? {} : { max: c.max }) };
}

/** Constraints on one metric must leave some value; accuracy constraints need an accuracy source. */
function checkConstraintsTogether(spec: SweepSpec, file: string): void {
  for (const metric of METRICS) {
    const on = spec.constraints.filter((c) => c.metric === metric);
    if (on.length === 0) continue;
    if (metric === 'accuracy' && spec.accuracy.source === 'none') {
      throw new UserError(`${file}: constraint "${on[0].name}" can never be met: accuracy.source is none, so no point has an accuracy`);
    }
    const lo = Math.max(...on.map((c) => c.min ?? -Infinity));
    const hi = Math.min(...on.map((c) => c.max ?? Infinity));
    if (lo > hi) throw new UserError(`${file}: constraints ${on.map((c) => `"${c.name}"`).join(' and ')} can never be met together`);
  }
  const names = spec.constraints.map((c) => c.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new UserError(`${file}: two constraints are named "${twice}"`);
}

/** Axes that set the same thing two ways. */
function checkAxisCombinations(names: Set<string>, file: string): void {
  const clashes: [string, string][] = [
    ['pe.bits', 'pe.actBits'],
    ['pe.bits', 'pe.weightBits'],
    ['quant.bits', 'quant.wbits'],
    ['quant.bits', 'quant.abits'],
    ['quant.budget', 'quant.bits'],
    ['quant.budget', 'quant.wbits'],
    ['quant.budget', 'quant.abits'],
  ];
  for (const [a, b] of clashes) if (names.has(a) && names.has(b)) throw new UserError(`${file}: axes ${a} and ${b} both set the same widths; keep one`);
}

function checkMetric(metric: string, file: string, field: string): void {
  if (!(METRICS as readonly string[]).includes(metric)) throw new UserError(`${file}: ${field} is not a known metric, got ${describe(metric)} (metrics: ${METRICS.join(', ')})`);
}

let schemaCache: object | undefined;
function sweepSchema(): object {
  schemaCache ??= readJsonFile(SCHEMA_FILE) as object;
  return schemaCache;
}

/**
 * Measured accuracy calibrates each point's method on the spot, which only the post-training methods
 * can do; a QAT method or a literature-only one is refused before any point runs.
 */
function checkMeasurableMethods(spec: SweepSpec, values: readonly (readonly ParamValue[])[], file: string): void {
  const measurable = POST_TRAINING_METHODS as readonly string[];
  const why = `for measured accuracy (post-training methods; QAT models come from vitsim qat)`;
  if (!measurable.includes(spec.quant.method)) {
    throw new UserError(`${file}: quant.method must be one of ${measurable.join(', ')} ${why}, got ${describe(spec.quant.method)}`);
  }
  spec.axes.forEach((axis, i) => {
    if (axis.name !== 'quant.method') return;
    values[i].forEach((v, j) => {
      if (!measurable.includes(String(v))) throw new UserError(`${file}: axes[${i}].values[${j}] (quant.method) must be one of ${measurable.join(', ')} ${why}, got ${describe(v)}`);
    });
  });
}
