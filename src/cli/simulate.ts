/**
 * `vitsim simulate --arch <file|preset> --workload <model|trace.json>`: one inference of a workload on
 * a design — per-op cycles, stalls, utilisation, bound and action counts; totals (latency, inferences/s,
 * effective TOPS); energy per inference by component, power, TOPS/W; area by component.
 *
 *   vitsim simulate --arch tpu-v1 --workload deit-s [--batch 4] [--wbits 4 --abits 4 | --bits map.json] [--attention qkr]
 *   vitsim simulate --arch my.json --workload trace.json [--tech 7nm [--voltage 0.65V]] [--json] [--csv ops.csv]
 *
 * `--tech` re-prices the same simulation at another node: the cycle model runs once.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import type { CommandModule } from 'yargs';
import { UserError } from '../config/errors.js';
import { readJsonFile } from '../config/schema.js';
import { formatSI, parseQuantity } from '../config/units.js';
import { areaReport, energyReport, formatEnergy } from '../cost/format.js';
import type { EnergyBreakdown } from '../cost/price.js';
import { designComponents, designTechnology, priceSimulation, type SimulationCost } from '../cost/simulation.js';
import { loadArch } from '../hw/arch-file.js';
import type { Accelerator } from '../hw/arch.js';
import { simulateTrace, type OpResult, type Simulation } from '../hw/simulate.js';
import { DEFAULT_ACC_BITS, loadBitsMap, uniformBits } from '../trace/bits.js';
import { buildTrace } from '../trace/build.js';
import { parseTrace, type Trace } from '../trace/trace.js';
import { loadWorkload, parseWorkload, withAttention, workloadNames } from '../trace/workload.js';

interface SimulateArgs {
  arch: string;
  workload: string;
  batch?: number;
  wbits?: number;
  abits?: number;
  'acc-bits'?: number;
  bits?: string;
  attention?: string;
  tech?: string;
  voltage?: string;
  json: boolean;
  csv?: string;
}

const WHERE = 'vitsim simulate';

export const simulateCommand: CommandModule<object, SimulateArgs> = {
  command: 'simulate',
  describe: 'one inference of a workload on a design: per-op cycles and action counts, latency, throughput, energy, power, area',
  builder: (y) =>
    y
      .option('arch', { type: 'string', demandOption: true, describe: 'an arch file or a preset name' })
      .option('workload', { type: 'string', demandOption: true, describe: `a trace file, a workload file, or a shipped model (${workloadNames().join(', ')})` })
      .option('batch', { type: 'number', describe: "images per inference (models only; default: the description's batch)" })
      .option('wbits', { type: 'number', describe: 'weight width for every layer (models only; default 8)' })
      .option('abits', { type: 'number', describe: 'activation width for every layer (models only; default 8)' })
      .option('acc-bits', { type: 'number', describe: `accumulator width for every layer (models only; default ${DEFAULT_ACC_BITS})` })
      .option('bits', { type: 'string', describe: 'per-layer widths map (models only), as for vitsim trace' })
      .option('attention', {
        type: 'string',
        describe: "attention form of every block (models only), over the description's `attention`: standard, or qkr (OFQ's query–key reparameterisation, which costs H·C²·T + H·T²·C score MACs per image instead of 2·C²·T + T²·C; plain ViTs only)",
      })
      .option('tech', { type: 'string', describe: "price at this technology node instead of the arch file's, e.g. 7nm (same simulation)" })
      .option('voltage', { type: 'string', describe: "supply to price at, e.g. 0.65V (default: the arch file's, or the --tech node's nominal)" })
      .option('json', { type: 'boolean', default: false, describe: 'print the design, the simulation and its price as JSON (SI units)' })
      .option('csv', { type: 'string', describe: 'also write one row per op (cycles, action counts, energy) and a total row to this CSV file' }),
  handler: (args) => {
    const arch = loadArch(args.arch);
    const tech = designTechnology(arch, {
      ...(args.tech === undefined ? {} : { nodeMetres: parseQuantity(args.tech, 'metres', WHERE, '--tech') }),
      ...(args.voltage === undefined ? {} : { volts: parseQuantity(args.voltage, 'volts', WHERE, '--voltage') }),
    });
    // Refuse what cannot be priced before spending time on the simulation.
    designComponents(arch);
    const trace = loadTrace(args);
    const sim = simulateTrace(arch, trace);
    const cost = priceSimulation(sim, arch, tech);
    if (args.csv !== undefined) writeCsv(args.csv, sim, cost);
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ arch, trace: { model: trace.model, batch: trace.batch, source: trace.source }, simulation: sim, cost }, null, 2)}\n`);
      return;
    }
    process.stdout.write(`${report(arch, trace, sim, cost).join('\n')}\n`);
  },
};

/** A trace file as it is; a model name or workload file through the trace builder with the width flags. */
function loadTrace(args: SimulateArgs): Trace {
  const modelFlags = (['batch', 'wbits', 'abits', 'acc-bits', 'bits', 'attention'] as const).filter((f) => args[f] !== undefined);
  const isFile = /\.json$/i.test(args.workload) || /[/\\]/.test(args.workload);
  if (isFile) {
    const data = readJsonFile(args.workload);
    if (data !== null && typeof data === 'object' && ('ops' in data || 'format' in data)) {
      if (modelFlags.length > 0) throw new UserError(`${WHERE}: --${modelFlags[0]} applies to models, but ${args.workload} is a trace (its widths and batch are fixed)`);
      return parseTrace(data, args.workload);
    }
  }
  const described = isFile ? parseWorkload(readJsonFile(args.workload), args.workload) : loadWorkload(args.workload);
  const workload = args.attention === undefined ? described : withAttention(described, args.attention, `${WHERE}: --attention`);
  if (args.batch !== undefined && !(Number.isSafeInteger(args.batch) && args.batch > 0)) throw new UserError(`${WHERE}: --batch must be a positive integer, got ${args.batch}`);
  const defaults = uniformBits(args.wbits ?? 8, args.abits ?? 8, args['acc-bits'] ?? DEFAULT_ACC_BITS);
  const bits = args.bits === undefined ? defaults : loadBitsMap(args.bits, defaults.defaults);
  return buildTrace(workload, { bits, ...(args.batch === undefined ? {} : { batch: args.batch }) });
}

/** The human report: per-op table, totals, energy, power and area. */
function report(arch: Accelerator, trace: Trace, sim: Simulation, cost: SimulationCost): string[] {
  const t = sim.totals;
  const int = (x: number): string => Math.round(x).toLocaleString('en-US');
  // Measured sparsity is what zero gating prices: show it per op whenever the trace carries it.
  const zeros = (o: OpResult): number | undefined => o.actions.macs.find((m) => m.zeroOperandFraction !== undefined)?.zeroOperandFraction;
  const measured = sim.ops.some((o) => zeros(o) !== undefined);
  const header = ['#', 'op', 'kind', 'cycles', 'stall', 'hidden', 'util', 'bound', 'MACs', ...(measured ? ['zero-op MACs'] : []), 'DRAM B', 'lane ops', 'compares', 'noise adds', 'energy'];
  const rows = sim.ops.map((o, i) => [
    String(o.index),
    o.name,
    o.kind,
    int(o.cycles),
    int(o.stallCycles),
    int(o.hiddenCycles),
    `${(100 * o.utilisation).toFixed(1)}%`,
    o.bound,
    formatSI(o.macs, ''),
    ...(measured ? [zeros(o) === undefined ? '-' : `${(100 * (zeros(o) ?? 0)).toFixed(1)}%`] : []),
    formatSI(o.actions.dram.readBytes + o.actions.dram.writeBytes, ''),
    formatSI(sumOf(o.actions.vector, (v) => v.count), ''),
    formatSI(sumOf(o.actions.comparisons, (c) => c.count), ''),
    formatSI(sumOf(o.actions.noise, (n) => n.additions), ''),
    formatEnergy(cost.perOpJ[i]),
  ]);
  const e = cost.energy;
  const perInference = (j: number): string => formatEnergy(j / sim.batch);
  return [
    `${trace.model}, batch ${trace.batch}, on ${arch.name} (${arch.array.rows}x${arch.array.cols} ${arch.array.dataflow}, ${arch.pe.kind} PE, ${formatSI(arch.clockHz, 'Hz')}, overlap ${arch.overlap})`,
    ...table(header, rows),
    '',
    `cycles       ${int(t.cycles)} = sum of the ops (array compute ${int(t.computeCycles)}, memory stalls ${int(t.stallCycles)}, side units ${int(t.cycles - t.computeCycles - t.stallCycles)} exposed, ${int(t.hiddenCycles)} hidden)`,
    `latency      ${formatSI(t.latencySeconds, 's')} at ${formatSI(sim.clockHz, 'Hz')}`,
    `throughput   ${Number(t.inferencesPerSecond.toPrecision(4))} inferences/s (${trace.batch} per batch)`,
    `effective    ${formatSI(t.effectiveOpsPerSecond, 'OPS')} (${formatSI(t.macs, 'MAC')} per batch); peak ${formatSI(t.peakOpsPerSecond, 'OPS')} at the PEs' ${arch.pe.actBits}x${arch.pe.weightBits}-bit widths` +
      (arch.pe.kind === 'bitfusion' ? ', more at narrower operands' : ''),
    `energy       ${perInference(e.totalJ)} per inference at ${e.scaling.nm} nm, ${e.scaling.volts} V (${formatEnergy(e.totalJ)} per batch of ${sim.batch}; per component below)`,
    `power        ${formatSI(cost.powerW, 'W')}`,
    `efficiency   ${Number((cost.opsPerJoule / 1e12).toPrecision(4))} TOPS/W`,
    '',
    sim.batch === 1 ? 'energy per inference by component:' : `energy per inference by component (the batch of ${sim.batch}, divided by ${sim.batch}):`,
    ...energyReport(perImage(e, sim.batch)).map((l) => `  ${l}`),
    '',
    `area:`,
    ...areaReport(cost.area).map((l) => `  ${l}`),
  ];
}

/** The batch's breakdown shared out over its images (latency too: the time per image at this throughput). */
function perImage(e: EnergyBreakdown, batch: number): EnergyBreakdown {
  if (batch === 1) return e;
  return {
    ...e,
    components: e.components.map((c) => ({ ...c, dynamicJ: c.dynamicJ / batch, leakageJ: c.leakageJ / batch })),
    totalJ: e.totalJ / batch,
    latencySeconds: e.latencySeconds / batch,
    zeroGating: { ...e.zeroGating, macs: e.zeroGating.macs / batch, gatedMacs: e.zeroGating.gatedMacs / batch, savedJ: e.zeroGating.savedJ / batch },
  };
}

function writeCsv(file: string, sim: Simulation, cost: SimulationCost): void {
  const row = (name: string, kind: string, index: number | string, o: Pick<OpResult, 'cycles' | 'computeCycles' | 'stallCycles' | 'hiddenCycles' | 'macs' | 'actions'> & Partial<OpResult>, energyJ: number): Record<string, string | number> => {
    const a = o.actions;
    const sram = (buffer: string, what: 'reads' | 'writes'): number => sumOf(a.sram.filter((s) => s.buffer === buffer), (s) => s[what]);
    const sramBits = (buffer: string): number => sumOf(a.sram.filter((s) => s.buffer === buffer), (s) => (s.reads + s.writes) * s.wordBits);
    const lane = (kind: string): number => sumOf(a.vector.filter((v) => v.kind === kind), (v) => v.count);
    return {
      index,
      name,
      kind,
      cycles: o.cycles,
      compute_cycles: o.computeCycles,
      stall_cycles: o.stallCycles,
      hidden_cycles: o.hiddenCycles,
      vector_cycles: o.unitCycles?.vector ?? '',
      threshold_cycles: o.unitCycles?.threshold ?? '',
      noise_cycles: o.unitCycles?.noise ?? '',
      utilisation: o.utilisation ?? '',
      bound: o.bound ?? '',
      dram_cycles: o.dramCycles ?? '',
      macs: o.macs,
      mac_widths: a.macs.map((m) => `a${m.actBits}w${m.weightBits}`).join(' '),
      zero_operand_fraction: a.macs.find((m) => m.zeroOperandFraction !== undefined)?.zeroOperandFraction ?? '',
      sram_ifmap_reads: sram('ifmap', 'reads'),
      sram_ifmap_writes: sram('ifmap', 'writes'),
      sram_ifmap_bits: sramBits('ifmap'),
      sram_filter_reads: sram('filter', 'reads'),
      sram_filter_writes: sram('filter', 'writes'),
      sram_filter_bits: sramBits('filter'),
      sram_ofmap_reads: sram('ofmap', 'reads'),
      sram_ofmap_writes: sram('ofmap', 'writes'),
      sram_ofmap_bits: sramBits('ofmap'),
      dram_read_bytes: a.dram.readBytes,
      dram_write_bytes: a.dram.writeBytes,
      comparisons: sumOf(a.comparisons, (c) => c.count),
      noise_additions: sumOf(a.noise, (n) => n.additions),
      noise_table_reads: sumOf(a.noise, (n) => n.tableReads),
      lane_add: lane('add'),
      lane_multiply: lane('multiply'),
      lane_compare: lane('compare'),
      lane_shift: lane('shift'),
      lane_divide: lane('divide'),
      twin_shifts: sumOf(a.twinShifts, (s) => s.count),
      energy_j: energyJ,
    };
  };
  const t = sim.totals;
  const records = [
    ...sim.ops.map((o, i) => row(o.name, o.kind, o.index, o, cost.perOpJ[i])),
    row('total', '', '', { cycles: t.cycles, computeCycles: t.computeCycles, stallCycles: t.stallCycles, hiddenCycles: t.hiddenCycles, macs: t.macs, actions: t.actions }, cost.energy.totalJ),
  ];
  try {
    writeFileSync(file, stringify(records, { header: true }));
  } catch (err) {
    throw new UserError(`${file}: cannot write file (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
}

function sumOf<T>(xs: readonly T[], f: (x: T) => number): number {
  return xs.reduce((s, x) => s + f(x), 0);
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const left = new Set(['op', 'kind', 'bound']);
  const render = (r: string[]): string => r.map((cell, i) => (left.has(header[i]) ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  return [render(header), ...rows.map(render)];
}
