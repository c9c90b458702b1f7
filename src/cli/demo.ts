/**
 * `vitsim demo`: the main job on the embedded defaults, end to end. The shipped Fashion-MNIST ViT is
 * evaluated on the first images of its test split; then it and DeiT-S are traced at W8A8 and W4A4,
 * simulated on every preset design and priced in energy and area. The results land in
 * `reports/demo/` as CSV, Markdown and charts (PNG, SVG, PDF).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { UserError } from '../config/errors.js';
import { formatSI } from '../config/units.js';
import { designTechnology, priceSimulation, type SimulationCost } from '../cost/simulation.js';
import { archPresets, loadArch } from '../hw/arch-file.js';
import type { Accelerator } from '../hw/arch.js';
import { simulateTrace, type Simulation } from '../hw/simulate.js';
import { writeChart } from '../report/charts.js';
import { markdownTable, writeCsv, type Column } from '../report/table.js';
import { uniformBits } from '../trace/bits.js';
import { buildTrace } from '../trace/build.js';
import { loadWorkload } from '../trace/workload.js';
import { runEval, type EvalReport } from './eval.js';

interface DemoArgs {
  out: string;
  images: number;
}

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHIPPED_MODEL = join(PACKAGE_ROOT, 'workloads/models/vit-fashion-mnist.safetensors');
const WORKLOADS = ['vit-fashion-mnist', 'deit-s'];
const WIDTHS: readonly { w: number; a: number }[] = [{ w: 8, a: 8 }, { w: 4, a: 4 }];

/** One design point of the demo: a workload at some widths on one design. */
interface DemoPoint {
  workload: string;
  bits: string;
  arch: Accelerator;
  sim: Simulation;
  cost: SimulationCost;
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'the end-to-end example on the embedded defaults: shipped model, presets, report in reports/demo/',
  builder: (y) =>
    y
      .option('out', { type: 'string', default: 'reports/demo', describe: 'folder for the report' })
      .option('images', { type: 'number', default: 1000, describe: 'test images for the accuracy of the shipped model (0 skips it)' }),
  handler: async (args) => {
    if (!Number.isInteger(args.images) || args.images < 0) throw new UserError(`vitsim demo: --images must be an integer >= 0, got ${args.images}`);
    mkdirSync(args.out, { recursive: true });

    const accuracy = args.images === 0 ? undefined : await shippedAccuracy(args.images);
    if (accuracy) log(`accuracy   ${relative(process.cwd(), SHIPPED_MODEL)}: ${pct(accuracy.accuracy)} top-1 on the first ${accuracy.count} ${accuracy.dataset} test images (float model)`);

    const points: DemoPoint[] = [];
    for (const name of WORKLOADS) {
      const workload = loadWorkload(name);
      for (const { w, a } of WIDTHS) {
        const trace = buildTrace(workload, { bits: uniformBits(w, a), batch: 1 });
        for (const preset of archPresets()) {
          const arch = loadArch(preset);
          const sim = simulateTrace(arch, trace);
          const cost = priceSimulation(sim, arch, designTechnology(arch));
          points.push({ workload: name, bits: `W${w}A${a}`, arch, sim, cost });
        }
      }
    }

    writeCsv(join(args.out, 'summary.csv'), points, CSV_COLUMNS);
    const charts = await writeCharts(args.out, points);
    writeFileSync(join(args.out, 'README.md'), markdownReport(points, accuracy, charts));
    for (const p of points) {
      log(`simulate   ${p.workload.padEnd(18)} ${p.bits} on ${p.arch.name.padEnd(16)} ${formatSI(p.sim.totals.latencySeconds, 's').padStart(10)}  ${formatSI(p.cost.energyPerInferenceJ, 'J').padStart(10)}/inference`);
    }
    log(`report     ${join(args.out, 'README.md')} (summary.csv, ${charts.length} charts as PNG, SVG and PDF)`);
  },
};

async function shippedAccuracy(images: number): Promise<EvalReport> {
  return runEval({ model: SHIPPED_MODEL, split: 'test', limit: images, batch: 100, json: true });
}

const CSV_COLUMNS: Column<DemoPoint>[] = [
  { header: 'workload', value: (p) => p.workload },
  { header: 'bits', value: (p) => p.bits },
  { header: 'arch', value: (p) => p.arch.name },
  { header: 'cycles', value: (p) => p.sim.totals.cycles },
  { header: 'stall_cycles', value: (p) => p.sim.totals.stallCycles },
  { header: 'latency_s', value: (p) => p.sim.totals.latencySeconds },
  { header: 'inferences_per_s', value: (p) => p.sim.totals.inferencesPerSecond },
  { header: 'effective_ops_per_s', value: (p) => p.sim.totals.effectiveOpsPerSecond },
  { header: 'memory_bound_gemms', value: (p) => memoryBound(p.sim) },
  { header: 'energy_per_inference_j', value: (p) => p.cost.energyPerInferenceJ },
  { header: 'power_w', value: (p) => p.cost.powerW },
  { header: 'ops_per_j', value: (p) => p.cost.opsPerJoule },
  { header: 'area_m2', value: (p) => p.cost.area.totalM2 },
  { header: 'node_nm', value: (p) => p.cost.energy.scaling.nm },
];

const MARKDOWN_COLUMNS: Column<DemoPoint>[] = [
  { header: 'workload', value: (p) => p.workload },
  { header: 'bits', value: (p) => p.bits },
  { header: 'design', value: (p) => p.arch.name },
  { header: 'latency', value: (p) => formatSI(p.sim.totals.latencySeconds, 's') },
  { header: 'inferences/s', value: (p) => Number(p.sim.totals.inferencesPerSecond.toPrecision(4)) },
  { header: 'effective', value: (p) => formatSI(p.sim.totals.effectiveOpsPerSecond, 'OPS') },
  { header: 'memory-bound GEMMs', value: (p) => `${memoryBound(p.sim)} of ${p.sim.ops.filter((o) => o.kind === 'gemm').length}` },
  { header: 'energy/inference', value: (p) => formatSI(p.cost.energyPerInferenceJ, 'J') },
  { header: 'TOPS/W', value: (p) => Number((p.cost.opsPerJoule / 1e12).toPrecision(3)) },
  { header: 'area', value: (p) => `${Number((p.cost.area.totalM2 * 1e6).toPrecision(3))} mm²` },
];

function memoryBound(sim: Simulation): number {
  return sim.ops.filter((o) => o.kind === 'gemm' && o.bound === 'memory').length;
}

interface ChartRef {
  title: string;
  file: string;
}

/** Latency of every design point, and DeiT-S W8A8 energy per inference by component on each design. */
async function writeCharts(out: string, points: DemoPoint[]): Promise<ChartRef[]> {
  const presets = [...new Set(points.map((p) => p.arch.name))];
  const series = [...new Set(points.map((p) => `${p.workload} ${p.bits}`))];
  const latency = await writeChart(out, 'latency', {
    type: 'bar',
    data: {
      labels: presets,
      datasets: series.map((s) => ({
        label: s,
        data: presets.map((a) => points.find((p) => `${p.workload} ${p.bits}` === s && p.arch.name === a)!.sim.totals.latencySeconds * 1e3),
      })),
    },
    options: {
      plugins: { title: { display: true, text: 'Latency of one inference (batch 1)' } },
      scales: { y: { type: 'logarithmic', title: { display: true, text: 'ms (log scale)' } } },
    },
  });

  const deit = points.filter((p) => p.workload === 'deit-s' && p.bits === 'W8A8');
  // Units the W8A8 trace never uses (threshold, noise, twin-uniform) cost nothing here: leave them out of the legend.
  const components = [...new Set(deit.flatMap((p) => p.cost.energy.components.filter((c) => c.dynamicJ + c.leakageJ > 0).map((c) => c.component)))];
  const energy = await writeChart(out, 'energy-deit-s-w8a8', {
    type: 'bar',
    data: {
      labels: deit.map((p) => p.arch.name),
      datasets: components.map((component) => ({
        label: component,
        data: deit.map((p) => {
          const c = p.cost.energy.components.find((e) => e.component === component);
          return c ? ((c.dynamicJ + c.leakageJ) / p.sim.batch) * 1e6 : 0;
        }),
      })),
    },
    options: {
      plugins: { title: { display: true, text: 'DeiT-S W8A8: energy per inference by component' } },
      scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'µJ' } } },
    },
  });
  return [
    { title: 'Latency of one inference on every design', file: relative(out, latency.png) },
    { title: 'DeiT-S W8A8 energy per inference by component', file: relative(out, energy.png) },
  ];
}

function markdownReport(points: DemoPoint[], accuracy: EvalReport | undefined, charts: ChartRef[]): string {
  return [
    '# vitsim demo',
    '',
    'Made by `npx vitsim demo` from the shipped model (`workloads/models/vit-fashion-mnist.safetensors`), the',
    'workload descriptions in `workloads/` and the preset designs in `arch/`. Every figure below was computed',
    'by that command; `summary.csv` holds them unrounded, in SI units.',
    '',
    '## Accuracy',
    '',
    accuracy
      ? `The shipped ViT classifies ${accuracy.correct} of the first ${accuracy.count} ${accuracy.dataset} test images correctly: ${pct(accuracy.accuracy)} top-1 (float model; quantized accuracy comes from the integer engine once the quantizers land).`
      : 'Skipped (`--images 0`).',
    '',
    '## Latency, energy and area (batch 1)',
    '',
    markdownTable(points, MARKDOWN_COLUMNS),
    '',
    'A GEMM is memory-bound when moving its DRAM bytes at the design\'s bandwidth takes longer than its compute',
    'cycles. Energy and area are priced at each design\'s own technology node (see `docs/cost-model.md`).',
    '',
    ...charts.flatMap((c) => [`## ${c.title}`, '', `![${c.title}](${c.file})`, '']),
  ].join('\n');
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}
