/**
 * The charts of a sweep report, each a chart.js configuration drawn by writeChart as PNG, SVG and PDF:
 * one design's latency per layer stacked by op kind and its roofline, the front's energy and area by
 * component, accuracy against energy coloured by area, and bit-width against accuracy and energy.
 * Each returns undefined (with the reason) when the sweep holds nothing to draw it from.
 */
import type { ChartConfiguration, ChartDataset } from 'chart.js';
import type { PointResult } from '../dse/result.js';
import { dominates } from '../dse/pareto.js';
import type { Simulation } from '../hw/simulate.js';
import { attainable, type Roofline } from './roofline.js';
import type { Trace } from '../trace/trace.js';

export type ChartSpec = { name: string; title: string; config: ChartConfiguration } | { name: string; title: string; skipped: string };

/** Sequential colours (viridis, 5 steps) for a quantity shown as colour. */
const RAMP = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'];
/** Log axes labelled at 1, 2 and 5 of each decade only: chart.js labels every minor tick, which overlap. */
const LOG_TICKS = {
  callback: (value: number | string) => {
    const v = Number(value);
    const mantissa = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
    return [1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6) ? String(Number(v.toPrecision(3))) : '';
  },
};
const FRONT_COLOUR = '#e15759';
const INFEASIBLE_COLOUR = '#bab0ac';

/** Latency of each layer of one design, stacked by op kind (GEMM, softmax, LayerNorm …). */
export function latencyByLayerChart(sim: Simulation, trace: Trace, design: string): ChartSpec {
  const layers: string[] = [];
  const byLayer = new Map<string, Map<string, number>>();
  let seenBlock = false;
  sim.ops.forEach((r, i) => {
    const layer = layerOf(trace.ops[i].name, seenBlock);
    if (layer !== 'stem' && layer !== 'head') seenBlock = true;
    if (!byLayer.has(layer)) {
      layers.push(layer);
      byLayer.set(layer, new Map());
    }
    const kinds = byLayer.get(layer)!;
    kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + r.cycles / sim.clockHz);
  });
  const kinds = [...new Set(sim.ops.map((r) => r.kind))];
  const unit = siUnit(largest(layers.map((l) => [...byLayer.get(l)!.values()].reduce((a, b) => a + b, 0))), 's');
  return {
    name: 'latency-by-layer',
    title: `Latency per layer by op kind: ${design}`,
    config: {
      type: 'bar',
      data: { labels: layers, datasets: kinds.map((k) => ({ label: k, data: layers.map((l) => (byLayer.get(l)!.get(k) ?? 0) / unit.factor) })) },
      options: {
        plugins: { title: { display: true, text: `Latency per layer by op kind, ${design}, batch ${sim.batch}` } },
        scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: unit.label } } },
      },
    },
  };
}

/**
 * The layer an op belongs to: its name up to the last numbered segment (`blocks.3`, Swin's
 * `layers.1.blocks.0`); ops before the first numbered layer are the stem, those after the last the head.
 */
function layerOf(name: string, afterBlocks: boolean): string {
  const match = /^(.*\.\d+)\./.exec(name);
  if (match) return match[1];
  return afterBlocks ? 'head' : 'stem';
}

/** Energy per inference by component for the chosen points (the front). */
export function energyBreakdownChart(points: readonly PointResult[]): ChartSpec {
  return breakdownChart(points, 'energy-breakdown', 'Energy per inference by component', (p) => p.breakdown.energyJ, 'J');
}

/** Area by component for the chosen points (the front). */
export function areaBreakdownChart(points: readonly PointResult[]): ChartSpec {
  return breakdownChart(points, 'area-breakdown', 'Area by component', (p) => p.breakdown.areaMm2, 'mm²');
}

/** Bars a breakdown chart still reads well with; a longer front is shown by evenly spaced points. */
const MAX_BARS = 40;

function breakdownChart(front: readonly PointResult[], name: string, title: string, of: (p: PointResult) => Record<string, number>, symbol: string): ChartSpec {
  if (front.length === 0) return { name, title, skipped: 'no feasible point, so no front to break down' };
  const points = front.length <= MAX_BARS ? front : Array.from({ length: MAX_BARS }, (_, i) => front[Math.round((i * (front.length - 1)) / (MAX_BARS - 1))]);
  const which = points.length === front.length ? 'Pareto-front points' : `${points.length} of ${front.length} Pareto-front points, evenly spaced`;
  // Components that are zero on every point (units the design lacks) stay out of the legend.
  const components = [...new Set(points.flatMap((p) => Object.keys(of(p))))].filter((c) => points.some((p) => of(p)[c] > 0));
  const unit = symbol === 'J' ? siUnit(largest(points.map((p) => sum(of(p)))), 'J') : { factor: 1, label: symbol };
  return {
    name,
    title,
    config: {
      type: 'bar',
      data: {
        labels: points.map((p) => `#${p.index}`),
        datasets: components.map((c) => ({ label: c, data: points.map((p) => (of(p)[c] ?? 0) / unit.factor) })),
      },
      options: {
        plugins: { title: { display: true, text: `${title} (${which})` } },
        scales: { x: { stacked: true, title: { display: true, text: 'design point' } }, y: { stacked: true, title: { display: true, text: unit.label } } },
      },
    },
  };
}

/**
 * Accuracy against energy for every feasible point, coloured by area (up to five bins), with
 * the points no other beats on both (the accuracy–energy front) joined by a line; infeasible points grey.
 */
export function accuracyEnergyChart(points: readonly PointResult[]): ChartSpec {
  const name = 'accuracy-vs-energy';
  const title = 'Accuracy vs energy per inference, coloured by area';
  const measured = points.filter((p) => p.metrics.accuracy !== null);
  if (measured.length === 0) return { name, title, skipped: 'no point has an accuracy (the sweep names no accuracy source for them)' };
  const feasible = measured.filter((p) => p.feasible);
  const unit = siUnit(largest(measured.map((p) => p.metrics.energyJ)), 'J');
  const xy = (p: PointResult) => ({ x: p.metrics.energyJ / unit.factor, y: p.metrics.accuracy! });
  const bins = areaBins(feasible.map((p) => p.metrics.areaMm2));
  const binOf = (area: number) => bins.findIndex((bin) => area <= bin.hi);
  const front = accuracyEnergyFront(feasible).map(xy);
  // Spread the bins over the whole ramp, so two bins are dark and light rather than two darks.
  const colour = (b: number) => RAMP[Math.round((b * (RAMP.length - 1)) / Math.max(1, bins.length - 1))];
  const datasets: ChartDataset[] = bins.map((bin, b) => ({
    label: bin.lo === bin.hi ? `area ${fmt(bin.lo)} mm²` : `area ${fmt(bin.lo)}–${fmt(bin.hi)} mm²`,
    data: feasible.filter((p) => binOf(p.metrics.areaMm2) === b).map(xy),
    backgroundColor: colour(b),
    borderColor: colour(b),
    pointRadius: 4,
  }));
  datasets.push({ type: 'line', label: 'front (accuracy vs energy)', data: front, borderColor: FRONT_COLOUR, backgroundColor: FRONT_COLOUR, showLine: true, stepped: 'before', fill: false, pointRadius: 0, borderWidth: 2 });
  const infeasible = measured.filter((p) => !p.feasible);
  if (infeasible.length > 0) datasets.push({ label: 'violates a constraint', data: infeasible.map(xy), backgroundColor: INFEASIBLE_COLOUR, borderColor: INFEASIBLE_COLOUR, pointStyle: 'crossRot', pointRadius: 4 });
  return {
    name,
    title,
    config: {
      type: 'scatter',
      data: { datasets },
      options: {
        plugins: { title: { display: true, text: title } },
        scales: { x: { type: 'logarithmic', ticks: LOG_TICKS, title: { display: true, text: `energy per inference (${unit.label}, log scale)` } }, y: { title: { display: true, text: 'top-1 accuracy (%)' } } },
      },
    } as ChartConfiguration,
  };
}

/** Up to five colour bins of rising area: one per distinct area, or five runs of distinct areas. */
function areaBins(areas: readonly number[]): { lo: number; hi: number }[] {
  const distinct = [...new Set(areas)].sort((a, b) => a - b);
  const n = Math.min(RAMP.length, distinct.length);
  return Array.from({ length: n }, (_, b) => {
    const run = distinct.slice(Math.floor((b * distinct.length) / n), Math.floor(((b + 1) * distinct.length) / n));
    return { lo: run[0], hi: run[run.length - 1] };
  });
}

/** Points no other point beats on both energy (lower) and accuracy (higher), in rising energy. */
function accuracyEnergyFront(points: readonly PointResult[]): PointResult[] {
  const v = (p: PointResult) => [p.metrics.energyJ, -p.metrics.accuracy!];
  return points.filter((p) => !points.some((q) => dominates(v(q), v(p)))).sort((a, b) => a.metrics.energyJ - b.metrics.energyJ || b.metrics.accuracy! - a.metrics.accuracy!);
}

/** The roofline of one design with its GEMMs placed on it (log–log). */
export function rooflineChart(line: Roofline, design: string): ChartSpec {
  const name = 'roofline';
  const title = `Roofline: ${design}`;
  if (line.ops.length === 0) return { name, title, skipped: 'no GEMM of this design moves DRAM bytes, so none has a finite intensity' };
  const xs = line.ops.map((o) => o.intensity);
  const ridge = Math.max(...line.roofs.map((r) => r.opsPerSecond / line.dramBytesPerSecond));
  const lo = Math.min(smallest(xs), ridge) / 4;
  const hi = Math.max(largest(xs), ridge) * 4;
  const tera = 1e12;
  const roofs = line.roofs.map((r, i) => {
    const knee = r.opsPerSecond / line.dramBytesPerSecond;
    const at = (x: number) => ({ x, y: attainable(line, r.opsPerSecond, x) / tera });
    const colour = ['#222222', '#555555', '#888888'][i % 3];
    return { type: 'line', label: `roof ${r.label}: ${fmt(r.opsPerSecond / tera)} TOPS, ${fmt(line.dramBytesPerSecond / 1e9)} GB/s`, data: [at(lo), at(knee), at(hi)], borderColor: colour, backgroundColor: colour, showLine: true, fill: false, pointRadius: 0, borderWidth: 2, borderDash: i === 0 ? [] : [6, 4] };
  });
  const roles = [...new Set(line.ops.map((o) => gemmRole(o.name)))];
  const ops = roles.map((role) => ({ label: role, data: line.ops.filter((o) => gemmRole(o.name) === role).map((o) => ({ x: o.intensity, y: o.achievedOpsPerSecond / tera })), pointRadius: 5 }));
  return {
    name,
    title,
    config: {
      type: 'scatter',
      data: { datasets: [...ops, ...roofs] },
      options: {
        plugins: { title: { display: true, text: title } },
        scales: {
          x: { type: 'logarithmic', min: lo, max: hi, ticks: LOG_TICKS, title: { display: true, text: 'operational intensity (ops per DRAM byte, log scale)' } },
          y: { type: 'logarithmic', ticks: LOG_TICKS, title: { display: true, text: 'achieved TOPS (log scale)' } },
        },
      },
    } as ChartConfiguration,
  };
}

/** A GEMM's role: the last segment of its name (qkv, qk, pv, proj, fc1, fc2, head). */
function gemmRole(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

/** The bit-width axes a sweep may vary, in the order the chart prefers them. */
const BIT_AXES = ['quant.bits', 'quant.budget', 'quant.wbits', 'quant.abits'];

/**
 * Best accuracy (left axis) and lowest energy (right axis) at each value of the sweep's bit-width
 * axis, one pair of lines per quantisation method when the method varies too.
 */
export function bitsChart(points: readonly PointResult[]): ChartSpec {
  const name = 'bits-vs-accuracy-energy';
  const feasible = points.filter((p) => p.feasible);
  const axis = BIT_AXES.find((a) => new Set(feasible.map((p) => p.params[a]).filter((v) => typeof v === 'number')).size >= 2);
  const title = `Bit-width vs accuracy and energy${axis ? ` (${axis})` : ''}`;
  if (axis === undefined) return { name, title, skipped: `no bit-width axis (${BIT_AXES.join(', ')}) takes two or more values on feasible points` };
  const bits = [...new Set(feasible.map((p) => p.params[axis]).filter((v): v is number => typeof v === 'number'))].sort((a, b) => a - b);
  const methods = [...new Set(feasible.map((p) => String(p.params['quant.method'] ?? '')))].sort();
  const unit = siUnit(largest(feasible.map((p) => p.metrics.energyJ)), 'J');
  const datasets: ChartDataset<'line', (number | null)[]>[] = [];
  methods.forEach((method, i) => {
    const at = (b: number) => feasible.filter((p) => p.params[axis] === b && String(p.params['quant.method'] ?? '') === method);
    const suffix = method === '' ? '' : ` (${method})`;
    const colour = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#9c755f', '#76b7b2', '#edc948', '#ff9da7', '#e15759'][i % 9];
    const accuracy = bits.map((b) => best(at(b).map((p) => p.metrics.accuracy).filter((a): a is number => a !== null), Math.max));
    if (accuracy.some((a) => a !== null)) datasets.push({ type: 'line', label: `best accuracy${suffix}`, data: accuracy, yAxisID: 'accuracy', borderColor: colour, backgroundColor: colour, spanGaps: true });
    datasets.push({ type: 'line', label: `lowest energy${suffix}`, data: bits.map((b) => mapNull(best(at(b).map((p) => p.metrics.energyJ), Math.min), (e) => e / unit.factor)), yAxisID: 'energy', borderColor: colour, backgroundColor: colour, borderDash: [6, 4], spanGaps: true });
  });
  return {
    name,
    title,
    config: {
      type: 'line',
      data: { labels: bits.map(String), datasets },
      options: {
        plugins: { title: { display: true, text: title } },
        scales: {
          x: { title: { display: true, text: axis } },
          accuracy: { type: 'linear', position: 'left', display: datasets.some((d) => d.yAxisID === 'accuracy'), title: { display: true, text: 'top-1 accuracy (%) — solid' } },
          energy: { type: 'logarithmic', position: 'right', ticks: LOG_TICKS, grid: { drawOnChartArea: false }, title: { display: true, text: `energy per inference (${unit.label}) — dashed` } },
        },
      },
    } as ChartConfiguration,
  };
}

function best(values: number[], pick: (...v: number[]) => number): number | null {
  return values.length === 0 ? null : pick(...values);
}

function mapNull<T, U>(v: T | null, f: (v: T) => U): U | null {
  return v === null ? null : f(v);
}

function sum(record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}

/** Math.max over any number of values (spreading 100,000 arguments overflows the stack). */
export function largest(values: readonly number[]): number {
  return values.reduce((a, b) => Math.max(a, b), -Infinity);
}

export function smallest(values: readonly number[]): number {
  return values.reduce((a, b) => Math.min(a, b), Infinity);
}

/** A prefix that puts `max` between 1 and 1000: { factor: 1e-6, label: 'µJ' }. */
export function siUnit(max: number, symbol: string): { factor: number; label: string } {
  const prefixes: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k'], [1, ''], [1e-3, 'm'], [1e-6, 'µ'], [1e-9, 'n'], [1e-12, 'p'], [1e-15, 'f']];
  const [factor, prefix] = prefixes.find(([f]) => Math.abs(max) >= f) ?? prefixes[prefixes.length - 1];
  return { factor, label: `${prefix}${symbol}` };
}

/** Three significant digits for legends. */
export function fmt(x: number): string {
  return String(Number(x.toPrecision(3)));
}
