/**
 * `vitsim report <results> --out reports/<name>/`: a sweep's results as a report — every point and
 * the Pareto front as CSV and JSON, the front as Markdown and LaTeX tables, charts as PNG, SVG and
 * PDF, and one self-contained HTML page (docs/reports.md).
 *
 *   vitsim report runs/edge --out reports/edge [--objectives latency,energy,accuracy] [--reference …] [--point 17]
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../config/errors.js';
import { OBJECTIVES, parseObjectives, type Objective } from '../dse/pareto.js';
import { designFromPoint, readResults, RESULTS_FILE } from '../dse/output-dir.js';
import type { PointResult } from '../dse/result.js';
import type { SweepSpec } from '../dse/spec.js';
import { writeSweepReport, type SweepReport } from '../report/sweep-report.js';

interface ReportArgs {
  results: string;
  out: string;
  objectives?: string;
  reference?: string;
  point?: number;
  title?: string;
  json: boolean;
}

const WHERE = 'vitsim report';

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <results>',
  describe: "a sweep's Pareto front, tables (CSV, JSON, Markdown, LaTeX), charts (PNG, SVG, PDF) and one self-contained HTML page",
  builder: (y) =>
    y
      .positional('results', { type: 'string', demandOption: true, describe: 'a sweep output directory (sweep.json and results.jsonl)' })
      .option('out', { type: 'string', demandOption: true, describe: 'folder for the report, e.g. reports/edge' })
      .option('objectives', { type: 'string', describe: `comma-separated subset of ${OBJECTIVES.join(', ')} (default: the sweep's objectives among them)` })
      .option('reference', { type: 'string', describe: 'hypervolume reference point, one number per objective in results units (s, J, mm², %); default: the front\'s nadir pushed 10% out' })
      .option('point', { type: 'number', describe: 'index of the point to show in detail (latency per layer, roofline); default: the front\'s knee' })
      .option('title', { type: 'string', describe: 'page title (default: the sweep\'s name)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the front and the files written as JSON' }) as unknown as Argv<ReportArgs>,
  handler: async (args) => {
    const started = Date.now();
    const report = await runReport(args);
    const seconds = (Date.now() - started) / 1000;
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ front: report.front.map((p) => p.index), hypervolume: report.hypervolume, detailed: report.detailed.index, files: report.files, seconds })}\n`);
      return;
    }
    const hv = report.hypervolume ? `, hypervolume ${report.hypervolume.value.toPrecision(6)}` : '';
    process.stdout.write(`${args.results}: ${report.points.length} points, ${report.front.length} on the front${hv}; design #${report.detailed.index} in detail\n`);
    for (const c of report.charts) if (c.skipped) process.stdout.write(`chart ${c.name} not drawn: ${c.skipped}\n`);
    process.stdout.write(`report ${join(args.out, 'index.html')} (${report.files.length} files in ${args.out}, ${seconds.toFixed(1)} s)\n`);
  },
};

/** Reads, checks and reports; every user mistake is one line. */
export async function runReport(args: Omit<ReportArgs, 'json'>): Promise<SweepReport> {
  checkResultsDir(args.results);
  const objectives = args.objectives === undefined ? undefined : parseObjectives(args.objectives);
  const reference = args.reference === undefined ? undefined : parseReference(args.reference);
  if (args.point !== undefined && !Number.isInteger(args.point)) throw new UserError(`${WHERE}: --point must be a point index (an integer), got ${args.point}`);
  const { spec, points } = readResults(args.results);
  return writeSweepReport(points, {
    out: args.out,
    source: args.results,
    title: args.title ?? `vitsim report: ${spec.name}`,
    description: spec.description,
    objectives: objectives ?? defaultObjectives(spec, points),
    ...(reference ? { reference } : {}),
    ...(args.point !== undefined ? { point: args.point } : {}),
    design: (params) => designFromPoint(spec, params),
  });
}

/**
 * Refuses, with one line, a missing directory, a results file with no complete line, and a line
 * that is not a result (bad JSON or missing fields), naming the file and line number. A torn last
 * line (no newline: a killed sweep) is left for readResults to drop, as `--resume` would.
 */
function checkResultsDir(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${WHERE}: results directory ${dir} does not exist`);
  const file = join(dir, RESULTS_FILE);
  if (!existsSync(file)) throw new UserError(`${WHERE}: ${dir} is not a sweep's output directory (no ${RESULTS_FILE}; vitsim sweep <spec> --out ${dir} makes one)`);
  const text = readFileSync(file, 'utf8');
  const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n');
  if (lines.every((l) => l.trim() === '')) throw new UserError(`${file}: holds no complete result line (has vitsim sweep run into ${dir}?)`);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new UserError(`${file}:${i + 1}: is not a JSON result line (${(err as Error).message.split('\n')[0]})`);
    }
    const problem = resultProblem(value);
    if (problem) throw new UserError(`${file}:${i + 1}: is not a result line: ${problem}`);
  });
}

/** What a parsed line lacks to be a PointResult the report can use, or undefined. */
function resultProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'expected an object';
  const p = value as Partial<PointResult>;
  if (!Number.isInteger(p.index)) return 'index must be an integer';
  if (typeof p.params !== 'object' || p.params === null) return 'params must be an object';
  if (typeof p.feasible !== 'boolean') return 'feasible must be true or false';
  if (!Array.isArray(p.violated)) return 'violated must be a list';
  if (typeof p.metrics !== 'object' || p.metrics === null) return 'metrics must be an object';
  for (const m of ['latencyS', 'energyJ', 'areaMm2', 'throughputIps', 'effectiveTops', 'peakTops', 'macs', 'dramBytes', 'cycles'] as const) {
    if (typeof p.metrics[m] !== 'number') return `metrics.${m} must be a number`;
  }
  if (p.metrics.accuracy !== null && typeof p.metrics.accuracy !== 'number') return 'metrics.accuracy must be a number or null';
  const b = p.breakdown;
  if (typeof b !== 'object' || b === null || typeof b.energyJ !== 'object' || typeof b.areaMm2 !== 'object' || typeof b.latencySByOpKind !== 'object') return 'breakdown must hold energyJ, areaMm2 and latencySByOpKind';
  return undefined;
}

function parseReference(text: string): number[] {
  const values = text.split(',').map((s) => Number(s.trim()));
  if (values.some((v) => !Number.isFinite(v)) || text.trim() === '') throw new UserError(`${WHERE}: --reference must be comma-separated numbers (one per objective), got ${JSON.stringify(text)}`);
  return values;
}

const OBJECTIVE_OF_METRIC: Record<string, Objective> = { latencyS: 'latency', energyJ: 'energy', areaMm2: 'area', accuracy: 'accuracy' };

/**
 * The sweep's own objectives among latency, energy, area and accuracy; latency, energy and area if it
 * names none of them. Accuracy only when every feasible point has one (a front needs every value).
 */
function defaultObjectives(spec: SweepSpec, points: readonly PointResult[]): Objective[] {
  const fromSpec = spec.objectives.map((o) => OBJECTIVE_OF_METRIC[o.metric]).filter((o): o is Objective => o !== undefined);
  const chosen = fromSpec.length > 0 ? fromSpec : (['latency', 'energy', 'area'] as Objective[]);
  const allMeasured = points.every((p) => !p.feasible || p.metrics.accuracy !== null);
  const usable = chosen.filter((o) => o !== 'accuracy' || allMeasured);
  return usable.length > 0 ? usable : ['latency', 'energy', 'area'];
}
