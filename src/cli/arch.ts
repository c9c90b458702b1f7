/** `vitsim arch [name|file]`: list the presets, or validate a design and print it in SI units. */
import type { CommandModule } from 'yargs';
import { archPresets, loadArch } from '../hw/arch-file.js';
import { peakOpsPerSecond } from '../hw/arch.js';
import { formatBytes, formatSI } from '../config/units.js';

interface ArchArgs {
  design?: string;
  json: boolean;
}

export const archCommand: CommandModule<object, ArchArgs> = {
  command: 'arch [design]',
  describe: 'list the preset designs, or validate a design file and show it',
  builder: (y) =>
    y
      .positional('design', { type: 'string', describe: 'an arch file or a preset name' })
      .option('json', { type: 'boolean', default: false, describe: 'print the parsed design as JSON (SI units)' }),
  handler: (args) => {
    if (!args.design) {
      for (const name of archPresets()) {
        const arch = loadArch(name);
        process.stdout.write(`${name.padEnd(14)} ${arch.array.rows}x${arch.array.cols} ${arch.array.dataflow}  ${formatSI(peakOpsPerSecond(arch), 'OPS')} peak\n`);
      }
      return;
    }
    const arch = loadArch(args.design);
    if (args.json) {
      process.stdout.write(`${JSON.stringify(arch, null, 2)}\n`);
      return;
    }
    const { array, pe, sram, dram, vector, threshold, noise } = arch;
    // Every optional field the file left out is shown with the value used, marked (default).
    const d = (...fields: string[]): string => (fields.some((f) => arch.defaulted.includes(f)) ? ' (default)' : '');
    const cpe = vector.cyclesPerElement;
    const peKind = pe.kind === 'bitfusion' ? `bitfusion, ${pe.brickBits}-bit bricks` : 'fixed';
    process.stdout.write(
      [
        `${arch.name}: ${arch.description}`,
        `  array      ${array.rows} x ${array.cols}, dataflow ${array.dataflow}`,
        `  PE         ${pe.actBits}-bit activations x ${pe.weightBits}-bit weights, ${pe.accBits}-bit accumulator`,
        `  PE kind    ${peKind}${d('pe.kind', 'pe.brickBits')}`,
        `  SRAM       ifmap ${formatBytes(sram.ifmapBytes)}, filter ${formatBytes(sram.filterBytes)}, ofmap ${formatBytes(sram.ofmapBytes)}`,
        `  DRAM       ${dram.type}, ${formatSI(dram.bandwidthBytesPerSecond, 'B/s')}`,
        `  clock      ${formatSI(arch.clockHz, 'Hz')}, node ${formatSI(arch.technologyNodeMetres, 'm')}`,
        `  supply     ${arch.volts === undefined ? "the node's nominal" : `${arch.volts} V`}${d('voltage')}`,
        `  vector     ${vector.lanes} lanes${d('vector.lanes')}, ${vector.bits}-bit${d('vector.bits')}; cycles per element: ` +
          `layernorm ${cpe.layernorm}, softmax ${cpe.softmax}, gelu ${cpe.gelu}, add ${cpe.add}, avgpool ${cpe.avgpool}, requant ${cpe.requant}` +
          `${d(...Object.keys(cpe).map((k) => `vector.cyclesPerElement.${k}`))}`,
        `  threshold  ${threshold.lanes === 0 ? 'none (0 lanes)' : `${threshold.lanes} lanes`}${d('threshold.lanes')}, ${2 ** threshold.maxBits - 1} comparators per lane (maxBits ${threshold.maxBits})${d('threshold.maxBits')}, ${threshold.comparatorBits}-bit${d('threshold.comparatorBits')}`,
        `  noise      ${noise.lanes === 0 ? 'none (0 lanes)' : `${noise.lanes} lanes`}${d('noise.lanes')}, ${noise.bits}-bit adders${d('noise.bits')}, table of ${noise.tableEntries}${d('noise.tableEntries')} x ${noise.entryBits}-bit${d('noise.entryBits')}`,
        `  twin       ${arch.twinUniform ? 'twin-uniform shifters' : 'no twin-uniform support'}${d('twinUniform')}`,
        `  overlap    ${arch.overlap}${d('overlap')}`,
        `  memory     activations ${arch.activations === 'on-chip' ? 'kept in the ifmap SRAM when they fit' : 'cross DRAM for every GEMM'}${d('activations')}`,
        `  gating     zero gating ${arch.zeroGating ? 'on' : 'off'}${d('zeroGating')}`,
        `  peak       ${formatSI(peakOpsPerSecond(arch), 'OPS')}`,
      ].join('\n') + '\n',
    );
  },
};
