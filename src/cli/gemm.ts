/**
 * `vitsim gemm --arch <file|preset> --m M --k K --n N [--dataflow d] [--bandwidth "25.6 GB/s"] [--json]`:
 * one GEMM on one design, in vitsim's native view (cycles with the memory stalls, SRAM and DRAM
 * counts), with SCALE-Sim's view of the same array beside it (CALC mode: no stalls; its origin differs, docs/cycle-model.md).
 */
import type { CommandModule } from 'yargs';
import { UserError, describe } from '../config/errors.js';
import { parseQuantity } from '../config/units.js';
import { loadArch } from '../hw/arch-file.js';
import { DATAFLOWS, type Arch, type Dataflow } from '../hw/arch.js';
import { checkGemm, type Gemm } from '../hw/gemm.js';
import { simulateGemm, type NativeGemmResult } from '../hw/native.js';
import { simulateScaleSim, type ScaleSimResult } from '../hw/scalesim/index.js';

interface GemmArgs {
  arch: string;
  m: number;
  k: number;
  n: number;
  dataflow?: string;
  bandwidth?: string;
  json: boolean;
}

export const gemmCommand: CommandModule<object, GemmArgs> = {
  command: 'gemm',
  describe: 'cycles, stalls, SRAM and DRAM traffic of one GEMM out[M,N] = in[M,K]·w[K,N] on a design',
  builder: (y) =>
    y
      .option('arch', { type: 'string', demandOption: true, describe: 'an arch file or a preset name' })
      .option('m', { type: 'number', demandOption: true, describe: 'rows of in and out (tokens)' })
      .option('k', { type: 'number', demandOption: true, describe: 'columns of in, rows of w (input features)' })
      .option('n', { type: 'number', demandOption: true, describe: 'columns of w and out (output features)' })
      .option('dataflow', { type: 'string', describe: `override the design's dataflow (${DATAFLOWS.join(', ')})` })
      .option('bandwidth', { type: 'string', describe: 'override the DRAM bandwidth, e.g. "12.8 GB/s"' })
      .option('json', { type: 'boolean', default: false, describe: 'print both views as JSON' }),
  handler: (args) => {
    const gemm = checkGemm({ m: args.m, k: args.k, n: args.n }, 'vitsim gemm');
    const dataflow = parseDataflow(args.dataflow);
    const loaded = loadArch(args.arch);
    const arch: Arch =
      args.bandwidth === undefined
        ? loaded
        : { ...loaded, dram: { ...loaded.dram, bandwidthBytesPerSecond: parseQuantity(args.bandwidth, 'bytesPerSecond', 'vitsim gemm', '--bandwidth') } };
    const native = simulateGemm(arch, gemm, dataflow === undefined ? {} : { dataflow });
    const scalesim = scaleSimView(arch, gemm, native.dataflow);
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ arch: arch.name, native, scalesim: scaleSimSummary(scalesim) }, null, 2)}\n`);
      return;
    }
    process.stdout.write(formatTable(arch, native, scalesim));
  },
};

function parseDataflow(value: string | undefined): Dataflow | undefined {
  if (value === undefined) return undefined;
  const found = DATAFLOWS.find((d) => d === value);
  if (found === undefined) throw new UserError(`vitsim gemm: --dataflow must be one of ${DATAFLOWS.join(', ')}, got ${describe(value)}`);
  return found;
}

/** SCALE-Sim's CALC-mode view of the same array and SRAMs (SCALE-Sim kB are KiB). */
function scaleSimView(arch: Arch, gemm: Gemm, dataflow: Dataflow): ScaleSimResult {
  return simulateScaleSim(
    {
      runName: arch.name,
      arrayRows: arch.array.rows,
      arrayCols: arch.array.cols,
      ifmapSramKB: arch.sram.ifmapBytes / 1024,
      filterSramKB: arch.sram.filterBytes / 1024,
      ofmapSramKB: arch.sram.ofmapBytes / 1024,
      ifmapOffset: 0,
      filterOffset: 10_000_000,
      ofmapOffset: 20_000_000,
      dataflow,
      interfaceBandwidth: 'CALC',
      bandwidthWordsPerCycle: undefined,
    },
    gemm,
  );
}

function scaleSimSummary(s: ScaleSimResult): Record<string, number> {
  return {
    computeCycles: s.computeCycles,
    mappingEfficiencyPct: s.mappingEfficiencyPct,
    computeUtilPct: s.computeUtilPct,
    sramIfmapReads: s.sram.ifmap.count,
    sramFilterReads: s.sram.filter.count,
    sramOfmapWrites: s.sram.ofmap.count,
  };
}

function formatTable(arch: Arch, r: NativeGemmResult, s: ScaleSimResult): string {
  const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;
  const int = (x: number): string => x.toLocaleString('en-US');
  const row = (label: string, native: string, scalesim = ''): string => `  ${label.padEnd(26)} ${native.padStart(24)}  ${scalesim.padStart(18)}\n`;
  const { m, k, n } = r.gemm;
  return [
    `${arch.name}: out[${m},${n}] = in[${m},${k}] · w[${k},${n}] on ${r.rows}x${r.cols} ${r.dataflow}, DRAM ${r.bytesPerCycle.toFixed(3)} B/cycle\n`,
    row('', 'native', 'SCALE-Sim CALC'),
    row('folds (rows x cols)', `${r.rowFolds} x ${r.colFolds} = ${r.folds}`),
    row('cycles per fold', int(r.cyclesPerFold)),
    row('compute cycles', int(r.computeCycles), int(s.computeCycles)),
    row('stall cycles', int(r.stallCycles), '0'),
    row('  initial fill', int(r.initialFillCycles)),
    row('  final write-back', int(r.finalDrainCycles)),
    row('total cycles', int(r.totalCycles), int(s.totalCycles)),
    row('mapping efficiency', pct(r.mappingEfficiency), `${s.mappingEfficiencyPct.toFixed(2)} %`),
    row('compute utilisation', pct(r.computeUtilisation), `${s.computeUtilPct.toFixed(2)} %`),
    row('overall utilisation', pct(r.overallUtilisation), `${s.overallUtilPct.toFixed(2)} %`),
    row(`SRAM ifmap reads/writes`, `${int(r.sram.ifmap.reads)} / ${int(r.sram.ifmap.writes)}`, int(s.sram.ifmap.count)),
    row(`SRAM filter reads/writes`, `${int(r.sram.filter.reads)} / ${int(r.sram.filter.writes)}`, int(s.sram.filter.count)),
    row(`SRAM ofmap reads/writes`, `${int(r.sram.ofmap.reads)} / ${int(r.sram.ofmap.writes)}`, `- / ${int(s.sram.ofmap.count)}`),
    row('DRAM ifmap read (B)', int(r.dram.ifmapReadBytes)),
    row('DRAM filter read (B)', int(r.dram.filterReadBytes)),
    row('DRAM psum read/write (B)', `${int(r.dram.psumReadBytes)} / ${int(r.dram.psumWriteBytes)}`),
    row('DRAM ofmap write (B)', int(r.dram.ofmapWriteBytes)),
    `  tiling: ifmap ${r.tiling.ifmap} (${r.tiles.ifmap}), filter ${r.tiling.filter} (${r.tiles.filter}), ofmap ${r.tiling.ofmap} (${r.tiles.ofmap})\n`,
  ].join('');
}
