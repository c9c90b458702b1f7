/**
 * The report of a sweep: every point and the Pareto front as CSV and JSON, the front as Markdown and
 * LaTeX (booktabs) tables, the charts as PNG, SVG and PDF, a README.md that renders on a forge, and
 * one self-contained HTML page with all of it.
 *
 * Only points that meet every constraint are ranked; the front is rank 0 over the chosen objectives.
 * One design is shown in detail (latency per layer, roofline): the one given, or the front's knee —
 * the front point nearest the ideal once each objective is scaled to [0, 1] over the front.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { UserError } from '../config/errors.js';
import { defaultReference, hypervolume } from '../dse/hypervolume.js';
import { minimisationVectors, nonDominatedSort, OBJECTIVE_INFO, type Objective } from '../dse/pareto.js';
import type { ParamValue, PointResult } from '../dse/result.js';
import type { Accelerator } from '../hw/arch.js';
import { simulateTrace } from '../hw/simulate.js';
import type { Trace } from '../trace/trace.js';
import { writeChart, type ChartFiles } from './charts.js';
import { htmlPage, htmlTable, type Block } from './html.js';
import { roofline } from './roofline.js';
import { accuracyEnergyChart, areaBreakdownChart, bitsChart, energyBreakdownChart, latencyByLayerChart, largest, rooflineChart, siUnit, smallest, type ChartSpec } from './sweep-charts.js';
import { latexTable, markdownTable, writeCsv, type Column } from './table.js';

export interface SweepReportOptions {
  out: string;
  /** Where the results came from (a sweep directory), for messages and the page. */
  source: string;
  title: string;
  /** What the sweep was for, opening the page. */
  description?: string;
  objectives: readonly Objective[];
  /** Hypervolume reference in natural units, one per objective; default: the front's nadir pushed 10% out. */
  reference?: readonly number[];
  /** Index of the point to show in detail; default: the front's knee. */
  point?: number;
  /** The design and trace a point stands for (the sweep's designFromPoint). */
  design: (params: Record<string, ParamValue>) => { arch: Accelerator; trace: Trace };
}

export interface RankedPoint extends PointResult {
  /** Front number (0 = the Pareto front) among the feasible points; null for a point that violates a constraint. */
  rank: number | null;
}

export interface SweepReport {
  points: RankedPoint[];
  front: RankedPoint[];
  /** Of the front, with its reference (natural units); null for one objective or more than three. */
  hypervolume: { value: number; reference: number[] } | null;
  detailed: RankedPoint;
  charts: { name: string; title: string; files?: ChartFiles; skipped?: string }[];
  files: string[];
}

/** Ranks `points`, draws and tabulates them into `options.out`. */
export async function writeSweepReport(results: readonly PointResult[], options: SweepReportOptions): Promise<SweepReport> {
  const { out, source, objectives } = options;
  if (results.length === 0) throw new UserError(`${source}: holds no results yet (no complete result line)`);
  if (options.reference && options.reference.length !== objectives.length) {
    throw new UserError(`--reference: expected ${objectives.length} numbers (one per objective: ${objectives.join(', ')}), got ${options.reference.length}`);
  }

  const feasible = results.filter((p) => p.feasible);
  const vectors = minimisationVectors(feasible, objectives, source);
  const ranks = new Map<number, number>();
  nonDominatedSort(vectors).forEach((front, r) => front.forEach((i) => ranks.set(feasible[i].index, r)));
  const points: RankedPoint[] = results.map((p) => ({ ...p, rank: ranks.get(p.index) ?? null }));
  const byIndex = new Map(points.map((p) => [p.index, p]));
  const onFront = feasible.map((p, i) => ({ point: byIndex.get(p.index)!, vector: vectors[i] })).filter((e) => e.point.rank === 0);
  onFront.sort((a, b) => a.vector[0] - b.vector[0] || a.point.index - b.point.index);
  const front = onFront.map((e) => e.point);
  const frontVectors = onFront.map((e) => e.vector);

  let hv: SweepReport['hypervolume'] = null;
  if ((objectives.length === 2 || objectives.length === 3) && front.length > 0) {
    const reference = options.reference ? Float64Array.from(options.reference, (r, j) => (OBJECTIVE_INFO[objectives[j]].direction === 'min' ? r : -r)) : defaultReference(frontVectors);
    hv = { value: hypervolume(frontVectors, reference), reference: Array.from(reference, (r, j) => (OBJECTIVE_INFO[objectives[j]].direction === 'min' ? r : -r)) };
  }

  const detailed = chooseDetailed(points, front, frontVectors, options.point, source);
  const { arch, trace } = options.design(detailed.params);
  const sim = simulateTrace(arch, trace);
  const design = designLabel(detailed.index, arch, trace);
  const specs: ChartSpec[] = [
    latencyByLayerChart(sim, trace, design),
    rooflineChart(roofline(arch, trace, sim), design),
    energyBreakdownChart(front),
    areaBreakdownChart(front),
    accuracyEnergyChart(points),
    bitsChart(points),
  ];
  mkdirSync(out, { recursive: true });
  const chartDir = join(out, 'charts');
  const charts: SweepReport['charts'] = [];
  for (const spec of specs) {
    if ('skipped' in spec) charts.push({ name: spec.name, title: spec.title, skipped: spec.skipped });
    else charts.push({ name: spec.name, title: spec.title, files: await writeChart(chartDir, spec.name, spec.config) });
  }

  const paramNames = [...new Set(results.flatMap((p) => Object.keys(p.params)))];
  const files = [
    writeTo(join(out, 'points.csv'), (f) => writeCsv(f, points, csvColumns(paramNames))),
    writeTo(join(out, 'front.csv'), (f) => writeCsv(f, front, csvColumns(paramNames))),
    writeTo(join(out, 'points.json'), (f) => writeFileSync(f, json({ source, objectives, points }))),
    writeTo(join(out, 'front.json'), (f) => writeFileSync(f, json({ source, objectives, hypervolume: hv, front }))),
  ];
  const tableColumns = frontColumns(front, paramNames, results.some((p) => p.metrics.accuracy !== null));
  const caption = { caption: `Pareto front over ${objectives.join(', ')} (${front.length} of ${feasible.length} feasible points)`, label: 'tab:pareto-front' };
  files.push(writeTo(join(out, 'front.md'), (f) => writeFileSync(f, `${markdownTable(front, tableColumns)}\n`)));
  files.push(writeTo(join(out, 'front.tex'), (f) => writeFileSync(f, `% needs \\usepackage{booktabs}\n${latexTable(front, tableColumns, caption)}\n`)));

  const report: SweepReport = { points, front, hypervolume: hv, detailed, charts, files };
  const summary = summaryLines(report, options, feasible.length, sim.totals.cycles);
  files.push(writeTo(join(out, 'README.md'), (f) => writeFileSync(f, markdownPage(report, options, summary, tableColumns))));
  files.push(writeTo(join(out, 'index.html'), (f) => writeFileSync(f, htmlPage(options.title, htmlBlocks(report, options, summary, tableColumns)))));
  for (const c of charts) if (c.files) files.push(c.files.png, c.files.svg, c.files.pdf);
  return report;
}

/** The point asked for, else the front's knee (frontVectors[i] is front[i]), else (nothing feasible) the first point. */
function chooseDetailed(points: RankedPoint[], front: RankedPoint[], frontVectors: Float64Array[], index: number | undefined, source: string): RankedPoint {
  if (index !== undefined) {
    const p = points.find((q) => q.index === index);
    if (!p) throw new UserError(`--point: ${source} has no point with index ${index} (indices ${points[0].index}…${points[points.length - 1].index})`);
    return p;
  }
  if (front.length === 0) return points[0];
  const d = frontVectors[0].length;
  const lo = Array.from({ length: d }, (_, j) => smallest(frontVectors.map((v) => v[j])));
  const hi = Array.from({ length: d }, (_, j) => largest(frontVectors.map((v) => v[j])));
  const distance = (v: Float64Array) => Math.hypot(...Array.from(v, (x, j) => (hi[j] > lo[j] ? (x - lo[j]) / (hi[j] - lo[j]) : 0)));
  let best = 0;
  frontVectors.forEach((v, i) => {
    if (distance(v) < distance(frontVectors[best])) best = i;
  });
  return front[best];
}

/** `#34: 16×16 OS array, W4A4 (edge-16x16)`: what the detailed charts show, in their titles. */
function designLabel(index: number, arch: Accelerator, trace: Trace): string {
  const widths = new Set(trace.ops.flatMap((op) => (op.kind === 'gemm' ? [`W${op.weightBits}A${op.actBits}`] : [])));
  const bits = widths.size === 1 ? [...widths][0] : 'mixed widths';
  return `#${index}: ${arch.array.rows}×${arch.array.cols} ${arch.array.dataflow.toUpperCase()} array, ${bits} (${arch.name})`;
}

function writeTo(file: string, write: (file: string) => void): string {
  write(file);
  return file;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 1)}\n`;
}

/** Every point unrounded, in SI units except mm² and TOPS (as the results file stores them). */
function csvColumns(paramNames: readonly string[]): Column<RankedPoint>[] {
  return [
    { header: 'index', value: (p) => p.index },
    ...paramNames.map((name) => ({ header: name, value: (p: RankedPoint) => cell(p.params[name]) })),
    { header: 'feasible', value: (p) => String(p.feasible) },
    { header: 'violated', value: (p) => p.violated.join(';') },
    { header: 'rank', value: (p) => (p.rank === null ? '' : p.rank) },
    { header: 'latency_s', value: (p) => p.metrics.latencyS },
    { header: 'energy_j', value: (p) => p.metrics.energyJ },
    { header: 'area_mm2', value: (p) => p.metrics.areaMm2 },
    { header: 'accuracy_pct', value: (p) => cell(p.metrics.accuracy) },
    { header: 'accuracy_source', value: (p) => cell(p.metrics.accuracySource) },
    { header: 'throughput_ips', value: (p) => p.metrics.throughputIps },
    { header: 'effective_tops', value: (p) => p.metrics.effectiveTops },
    { header: 'peak_tops', value: (p) => p.metrics.peakTops },
    { header: 'macs', value: (p) => p.metrics.macs },
    { header: 'dram_bytes', value: (p) => p.metrics.dramBytes },
    { header: 'cycles', value: (p) => p.metrics.cycles },
  ];
}

function cell(v: ParamValue | null | undefined): string | number {
  return v === null || v === undefined ? '' : typeof v === 'boolean' ? String(v) : v;
}

/** The front for people: three significant digits, one unit per column (chosen from the front's largest value). */
function frontColumns(front: readonly RankedPoint[], paramNames: readonly string[], withAccuracy: boolean): Column<RankedPoint>[] {
  const latency = siUnit(largest(front.map((p) => p.metrics.latencyS)), 's');
  const energy = siUnit(largest(front.map((p) => p.metrics.energyJ)), 'J');
  const round = (x: number) => Number(x.toPrecision(3));
  return [
    { header: '#', value: (p) => p.index },
    ...paramNames.map((name) => ({ header: name, value: (p: RankedPoint) => cell(p.params[name]) })),
    { header: `latency (${latency.label})`, value: (p) => round(p.metrics.latencyS / latency.factor) },
    { header: `energy/inference (${energy.label})`, value: (p) => round(p.metrics.energyJ / energy.factor) },
    { header: 'area (mm²)', value: (p) => round(p.metrics.areaMm2) },
    ...(withAccuracy ? [{ header: 'top-1 (%)', value: (p: RankedPoint) => (p.metrics.accuracy === null ? '—' : Number(p.metrics.accuracy.toFixed(2))) }] : []),
    { header: 'inferences/s', value: (p) => Number(p.metrics.throughputIps.toPrecision(4)) },
    { header: 'TOPS', value: (p) => round(p.metrics.effectiveTops) },
  ];
}

/** The facts the page opens with, each one sentence. */
function summaryLines(report: SweepReport, options: SweepReportOptions, feasible: number, resimulatedCycles: number): string[] {
  const { points, front, hypervolume: hv, detailed } = report;
  const lines = [
    ...(options.description ? [options.description] : []),
    `${points.length} design points from ${options.source}; ${feasible} meet every constraint; ${front.length} are on the Pareto front over ${options.objectives.map((o) => `${OBJECTIVE_INFO[o].label} (${OBJECTIVE_INFO[o].direction})`).join(', ')}.`,
  ];
  if (hv) lines.push(`Hypervolume of the front: ${sig(hv.value)} (${options.objectives.map((o) => (OBJECTIVE_INFO[o].unit ? OBJECTIVE_INFO[o].unit : '%')).join(' × ')}) against the reference (${hv.reference.map(sig).join(', ')})${options.reference ? '' : ', the front\'s nadir pushed 10% out'}.`);
  lines.push(`The design shown in detail is point #${detailed.index} (${describeParams(detailed.params)}): ${options.point !== undefined ? 'chosen with --point' : front.length > 0 ? "the front's knee, nearest the ideal point with each objective scaled to [0, 1] over the front" : 'no point is feasible, so the first'}.`);
  if (resimulatedCycles !== detailed.metrics.cycles) {
    lines.push(`Warning: re-simulating point #${detailed.index} gives ${resimulatedCycles} cycles, the results file says ${detailed.metrics.cycles}: the results come from another version of vitsim.`);
  }
  return lines;
}

/** Four significant digits, in exponent form outside [0.001, 10⁶). */
function sig(x: number): string {
  return x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6) ? x.toExponential(3) : String(Number(x.toPrecision(4)));
}

export function describeParams(params: Record<string, ParamValue>): string {
  const entries = Object.entries(params);
  return entries.length === 0 ? 'no axes' : entries.map(([k, v]) => `${k} = ${v}`).join(', ');
}

function markdownPage(report: SweepReport, options: SweepReportOptions, summary: string[], columns: Column<RankedPoint>[]): string {
  return [
    `# ${options.title}`,
    '',
    ...summary.flatMap((s) => [s, '']),
    'Files: `points.csv` / `points.json` (every point, with its front rank), `front.csv` / `front.json`, `front.md`, `front.tex` (booktabs), `index.html` (this report in one self-contained page), and each chart in `charts/` as PNG, SVG and PDF.',
    '',
    '## Pareto front',
    '',
    report.front.length > 0 ? markdownTable(report.front, columns) : 'No point meets every constraint.',
    '',
    ...report.charts.flatMap((c) => [`## ${c.title}`, '', c.files ? `![${c.title}](${relative(options.out, c.files.png)})` : `Not drawn: ${c.skipped}.`, '']),
  ].join('\n');
}

function htmlBlocks(report: SweepReport, options: SweepReportOptions, summary: string[], columns: Column<RankedPoint>[]): Block[] {
  return [
    ...summary.map((text): Block => ({ kind: 'paragraph', text })),
    { kind: 'heading', text: 'Pareto front' },
    report.front.length > 0 ? { kind: 'table', html: htmlTable(report.front, columns) } : { kind: 'note', text: 'No point meets every constraint.' },
    ...report.charts.flatMap((c): Block[] => [
      { kind: 'heading', text: c.title },
      c.files
        ? { kind: 'chart', title: c.title, file: c.files.png, downloads: [c.files.png, c.files.svg, c.files.pdf].map((f) => relative(options.out, f)) }
        : { kind: 'note', text: `Not drawn: ${c.skipped}.` },
    ]),
  ];
}
