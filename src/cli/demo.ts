/**
 * `vitsim demo`: the whole job on the embedded defaults, end to end, in a couple of minutes on two
 * cores. A small sweep of the shipped Fashion-MNIST ViT over array shapes, dataflows and weight and
 * activation widths on the edge-16x16 preset — each quantisation measured by the integer engine on
 * the first test images — then its Pareto front and report in `reports/demo/` (docs/reports.md).
 *
 * The sweep file it runs is written beside the report (`demo-sweep.json`), so `vitsim sweep` and
 * `vitsim report` reproduce every step by hand. Running the demo again reuses the finished sweep.
 */
import { availableParallelism } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../config/errors.js';
import { designFromPoint, readResults } from '../dse/output-dir.js';
import { runSweep } from '../dse/run.js';
import { parseSweep } from '../dse/spec.js';
import { writeSweepReport, type SweepReport } from '../report/sweep-report.js';
import { runEval } from './eval.js';

interface DemoArgs {
  out: string;
  images: number;
  workers: number;
}

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHIPPED_MODEL = join(PACKAGE_ROOT, 'workloads/models/vit-fashion-mnist.safetensors');

/** The demo's sweep: 3 × 3 array shapes × 2 dataflows × 4 widths = 72 points, 4 measured quantisations. */
export function demoSweep(images: number): Record<string, unknown> {
  return {
    name: 'demo',
    description: `The shipped Fashion-MNIST ViT on edge-16x16 variants: array shapes, dataflows and uniform W/A widths, accuracy measured by the integer engine on the first ${images} test images; accuracy at least 80 %.`,
    base: 'edge-16x16',
    workload: 'vit-fashion-mnist',
    axes: [
      { name: 'array.rows', values: [8, 16, 32] },
      { name: 'array.cols', values: [8, 16, 32] },
      { name: 'array.dataflow', values: ['os', 'ws'] },
      { name: 'quant.bits', values: [8, 6, 4, 3] },
    ],
    constraints: [{ metric: 'accuracy', min: 80 }],
    objectives: [
      { metric: 'energyJ', goal: 'min' },
      { metric: 'areaMm2', goal: 'min' },
      { metric: 'accuracy', goal: 'max' },
    ],
    accuracy: { source: 'measured', images, calibration: 64 },
  };
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'the end-to-end example on the embedded defaults: a small sweep of the shipped ViT, its Pareto front and report in reports/demo/',
  builder: (y) =>
    y
      .option('out', { type: 'string', default: 'reports/demo', describe: 'folder for the report (the sweep goes to <out>/sweep)' })
      .option('images', { type: 'number', default: 300, describe: 'test images each quantisation is measured on' })
      .option('workers', { type: 'number', default: availableParallelism(), describe: 'worker threads for the sweep' }) as unknown as Argv<DemoArgs>,
  handler: async (args) => {
    if (!Number.isInteger(args.images) || args.images < 1) throw new UserError(`vitsim demo: --images must be a positive integer, got ${args.images}`);
    if (!Number.isInteger(args.workers) || args.workers < 1) throw new UserError(`vitsim demo: --workers must be a positive integer, got ${args.workers}`);
    const started = Date.now();
    mkdirSync(args.out, { recursive: true });
    const specFile = join(args.out, 'demo-sweep.json');
    writeFileSync(specFile, `${JSON.stringify(demoSweep(args.images), null, 2)}\n`);
    const spec = parseSweep(demoSweep(args.images), specFile);

    const float = await runEval({ model: SHIPPED_MODEL, split: 'test', limit: args.images, batch: 100, json: true });
    log(`accuracy   float model: ${pct(float.accuracy)} top-1 on the first ${float.count} ${float.dataset} test images (the quantized points are measured on the same images)`);

    const sweepDir = join(args.out, 'sweep');
    const run = await runSweep(spec, { out: sweepDir, specFile, workers: args.workers, resume: true });
    log(`sweep      ${run.total} points in ${join(sweepDir, 'results.jsonl')}: ${run.computed} computed, ${run.resumed} from an earlier run (${seconds(started)} s so far)`);

    const { points } = readResults(sweepDir);
    const report = await writeSweepReport(points, {
      out: args.out,
      source: sweepDir,
      title: 'vitsim demo: the shipped ViT on small edge arrays',
      description: `${spec.description} The float model classifies ${pct(float.accuracy)} of the same images. Made by \`npx vitsim demo\`; the sweep file is demo-sweep.json.`,
      objectives: ['energy', 'area', 'accuracy'],
      design: (params) => designFromPoint(spec, params),
    });
    logFront(report);
    log(`report     ${join(args.out, 'index.html')} and README.md (${report.files.length} files, ${seconds(started)} s in all)`);
  },
};

function logFront(report: SweepReport): void {
  const feasible = report.points.filter((p) => p.feasible).length;
  const hv = report.hypervolume ? `, hypervolume ${report.hypervolume.value.toPrecision(4)}` : '';
  log(`front      ${report.front.length} of ${feasible} feasible points on the energy-area-accuracy front${hv}`);
  for (const p of report.front) {
    const m = p.metrics;
    const params = Object.entries(p.params).map(([k, v]) => `${k}=${v}`).join(' ');
    log(`  #${String(p.index).padEnd(3)} ${params.padEnd(60)} ${(m.energyJ * 1e6).toFixed(2).padStart(7)} µJ ${m.areaMm2.toFixed(3).padStart(6)} mm² ${m.accuracy === null ? '   —' : m.accuracy.toFixed(2)} % ${(m.latencyS * 1e6).toFixed(1).padStart(7)} µs`);
  }
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

function seconds(since: number): string {
  return ((Date.now() - since) / 1000).toFixed(1);
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}
