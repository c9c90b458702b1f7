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
    const { array, pe, sram, dram } = arch;
    process.stdout.write(
      [
        `${arch.name}: ${arch.description}`,
        `  array      ${array.rows} x ${array.cols}, dataflow ${array.dataflow}`,
        `  PE         ${pe.actBits}-bit activations x ${pe.weightBits}-bit weights, ${pe.accBits}-bit accumulator`,
        `  SRAM       ifmap ${formatBytes(sram.ifmapBytes)}, filter ${formatBytes(sram.filterBytes)}, ofmap ${formatBytes(sram.ofmapBytes)}`,
        `  DRAM       ${dram.type}, ${formatSI(dram.bandwidthBytesPerSecond, 'B/s')}`,
        `  clock      ${formatSI(arch.clockHz, 'Hz')}, node ${formatSI(arch.technologyNodeMetres, 'm')}`,
        `  peak       ${formatSI(peakOpsPerSecond(arch), 'OPS')}`,
      ].join('\n') + '\n',
    );
  },
};
