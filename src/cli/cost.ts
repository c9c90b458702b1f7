/**
 * `vitsim cost`: the cost model on its own.
 *   vitsim cost sram --size 48KiB --width 64 --node 28nm [--flavour hp|lstp] [--voltage 0.8V] [--json]
 *   vitsim cost mac --act 8 --weight 8 --acc 32 --node 45nm [--pe fixed|bitfusion] [--table …] [--json]
 *   vitsim cost --sources        every default with the publication it came from
 */
import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../config/errors.js';
import { parseQuantity } from '../config/units.js';
import { peAreaM2, peLeakageW, peMacEnergyJ, PE_KINDS, type PeKind } from '../cost/arithmetic.js';
import { formatArea, formatEnergy, formatPower, formatRow } from '../cost/format.js';
import { cactiPoints, sramCost } from '../cost/sram.js';
import { allRows } from '../cost/tables.js';
import { ARITHMETIC_TABLES, nodeScaling, SRAM_FLAVOURS, type ArithmeticTable, type SramFlavour } from '../cost/technology.js';

interface CostArgs {
  sources: boolean;
}

interface SramArgs {
  size: string;
  width: number;
  node: string;
  flavour: SramFlavour;
  voltage?: string;
  json: boolean;
}

interface MacArgs {
  act: number;
  weight: number;
  acc: number;
  node: string;
  pe: PeKind;
  'native-act'?: number;
  'native-weight'?: number;
  table: ArithmeticTable;
  voltage?: string;
  json: boolean;
}

const WHERE = 'vitsim cost';

const sramCommand: CommandModule<object, SramArgs> = {
  command: 'sram',
  describe: 'modelled energy per access, leakage and area of one SRAM (fitted to CACTI 7)',
  builder: (y) =>
    y
      .option('size', { type: 'string', demandOption: true, describe: 'capacity, e.g. 48KiB' })
      .option('width', { type: 'number', demandOption: true, describe: 'port width in bits' })
      .option('node', { type: 'string', demandOption: true, describe: 'technology node, e.g. 28nm' })
      .option('flavour', { choices: SRAM_FLAVOURS, default: 'hp' as SramFlavour, describe: 'CACTI device flavour' })
      .option('voltage', { type: 'string', describe: 'supply, e.g. 0.8V (default: the node\'s nominal)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON (SI units)' }) as unknown as Argv<SramArgs>,
  handler: (args) => {
    const bytes = parseQuantity(args.size, 'bytes', WHERE, '--size');
    const portBits = positiveInteger(args.width, '--width');
    const nodeMetres = parseQuantity(args.node, 'metres', WHERE, '--node');
    const volts = args.voltage === undefined ? undefined : parseQuantity(args.voltage, 'volts', WHERE, '--voltage');
    const c = sramCost({ bytes, portBits, nodeMetres, flavour: args.flavour, volts });
    if (args.json) {
      process.stdout.write(`${JSON.stringify(c, null, 2)}\n`);
      return;
    }
    const lines = [
      `SRAM ${args.size}, ${portBits}-bit port, ${args.node}, ${args.flavour} (CACTI 7 fit)`,
      `  read      ${formatEnergy(c.readEnergyJ)} per access`,
      `  write     ${formatEnergy(c.writeEnergyJ)} per access`,
      `  leakage   ${formatPower(c.leakageW)}`,
      `  area      ${formatArea(c.areaM2)}`,
      ...c.notes.map((n) => `  note: ${n}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  },
};

const macCommand: CommandModule<object, MacArgs> = {
  command: 'mac',
  describe: 'energy of one MAC, and area and leakage of the PE that runs it',
  builder: (y) =>
    y
      .option('act', { type: 'number', demandOption: true, describe: 'activation bits' })
      .option('weight', { type: 'number', demandOption: true, describe: 'weight bits' })
      .option('acc', { type: 'number', default: 32, describe: 'accumulator bits' })
      .option('node', { type: 'string', default: '45nm', describe: 'technology node' })
      .option('pe', { choices: PE_KINDS, default: 'fixed' as PeKind, describe: 'fixed widths, or BitFusion 2-bit-brick fusion unit' })
      .option('native-act', { type: 'number', describe: 'the PE\'s native activation bits (default --act)' })
      .option('native-weight', { type: 'number', describe: 'the PE\'s native weight bits (default --weight)' })
      .option('table', { choices: ARITHMETIC_TABLES, default: 'horowitz' as ArithmeticTable, describe: 'table for fixed PEs' })
      .option('voltage', { type: 'string', describe: 'supply, e.g. 0.8V (default: the node\'s nominal)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON (SI units)' }) as unknown as Argv<MacArgs>,
  handler: (args) => {
    const mac = { actBits: positiveInteger(args.act, '--act'), weightBits: positiveInteger(args.weight, '--weight') };
    const pe = {
      kind: args.pe,
      actBits: positiveInteger(args['native-act'] ?? args.act, '--native-act'),
      weightBits: positiveInteger(args['native-weight'] ?? args.weight, '--native-weight'),
      accBits: positiveInteger(args.acc, '--acc'),
    };
    const nodeMetres = parseQuantity(args.node, 'metres', WHERE, '--node');
    const volts = args.voltage === undefined ? undefined : parseQuantity(args.voltage, 'volts', WHERE, '--voltage');
    const s = nodeScaling(nodeMetres, volts);
    const result = {
      energyPerMacJ: peMacEnergyJ(pe, mac, args.table) * s.energyFactor,
      peAreaM2: peAreaM2(pe, args.table) * s.areaFactor,
      peLeakageW: peLeakageW(pe) * s.leakageFactor,
      sources: s.sources,
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const table = pe.kind === 'bitfusion' ? 'bitfusion fusion unit' : args.table;
    process.stdout.write(
      [
        `${mac.actBits}b x ${mac.weightBits}b MAC on a ${pe.kind} ${pe.actBits}x${pe.weightBits}-bit PE with a ${pe.accBits}-bit accumulator, ${s.nm} nm at ${s.volts} V (${table})`,
        `  energy    ${formatEnergy(result.energyPerMacJ)} per MAC`,
        `  PE area   ${formatArea(result.peAreaM2)}`,
        `  leakage   ${formatPower(result.peLeakageW)} per PE`,
      ].join('\n') + '\n',
    );
  },
};

export const costCommand: CommandModule<object, CostArgs> = {
  command: 'cost',
  describe: 'price SRAMs and MACs, or list every default with its source (--sources)',
  builder: (y) =>
    y
      .command(sramCommand)
      .command(macCommand)
      .option('sources', { type: 'boolean', default: false, describe: 'list every default energy/area figure with its source' }) as unknown as Argv<CostArgs>,
  handler: (args) => {
    if (!args.sources) throw new UserError('vitsim cost: name what to price (sram, mac) or ask for --sources');
    process.stdout.write(sourcesTable());
  },
};

/** Every default, one line each: table, name, value as published, source. */
function sourcesTable(): string {
  const lines = allRows().map((r) => [r.table, r.name, r.display ?? formatRow(r.row), r.row.source]);
  const points = cactiPoints();
  lines.push([
    'sram',
    `cacti-sram.csv (${points.length} runs)`,
    '16 KiB–4 MiB',
    'CACTI 7 (HewlettPackard/cacti, commit 1ffd8dfb), single-port scratchpads, 64/128-bit ports, 45/32/22 nm, itrs-hp and itrs-lstp; see src/cost/data/PROVENANCE.md',
  ]);
  const header = ['table', 'name', 'value', 'source'];
  const widths = [0, 1, 2].map((i) => Math.max(header[i].length, ...lines.map((l) => l[i].length)));
  const render = (l: string[]): string => `${l.slice(0, 3).map((cell, i) => cell.padEnd(widths[i])).join('  ')}  ${l[3]}`;
  return `${[render(header), render(header.map((h, i) => '-'.repeat(i < 3 ? widths[i] : h.length))), ...lines.map(render)].join('\n')}\n`;
}

function positiveInteger(value: number, flag: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new UserError(`${WHERE}: ${flag} must be a positive integer, got ${value}`);
  return value;
}
