/**
 * `vitsim scalesim -c <config.cfg> -t <topology.csv> -o <dir>`: SCALE-Sim's inputs in, SCALE-Sim's
 * three reports out (same columns, same number formatting), computed by vitsim's closed-form model
 * in microseconds per layer instead of SCALE-Sim's trace replay.
 */
import type { CommandModule } from 'yargs';
import { loadScaleSimConfig, loadTopology, simulateScaleSim, writeScaleSimReports } from '../hw/scalesim/index.js';

interface ScaleSimArgs {
  config: string;
  topology: string;
  output: string;
  json: boolean;
}

export const scalesimCommand: CommandModule<object, ScaleSimArgs> = {
  command: 'scalesim',
  describe: "run a SCALE-Sim config and GEMM topology; write SCALE-Sim's COMPUTE, BANDWIDTH and DETAILED_ACCESS reports",
  builder: (y) =>
    y
      .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'SCALE-Sim .cfg file' })
      .option('topology', { alias: 't', type: 'string', demandOption: true, describe: 'SCALE-Sim GEMM topology .csv (name, M, N, K,)' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'folder for the three report files' })
      .option('json', { type: 'boolean', default: false, describe: 'also print every figure of every layer as JSON' }),
  handler: (args) => {
    const config = loadScaleSimConfig(args.config);
    const layers = loadTopology(args.topology);
    const results = layers.map((layer) => simulateScaleSim(config, layer.gemm));
    const paths = writeScaleSimReports(args.output, results);
    if (args.json) {
      const out = layers.map((layer, i) => ({ layer: layer.name, ...results[i], mapping: undefined }));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    const width = Math.max(5, ...layers.map((l) => l.name.length));
    process.stdout.write(
      `${config.runName}: ${config.arrayRows}x${config.arrayCols} ${config.dataflow}, ${config.interfaceBandwidth}` +
        `${config.interfaceBandwidth === 'USER' ? ` ${config.bandwidthWordsPerCycle} words/cycle (stalls: vitsim's estimate, not SCALE-Sim's)` : ''}\n`,
    );
    process.stdout.write(`${'layer'.padEnd(width)}  ${'M'.padStart(6)} ${'N'.padStart(6)} ${'K'.padStart(6)}  ${'cycles'.padStart(10)} ${'stalls'.padStart(9)}  map eff  util\n`);
    layers.forEach((layer, i) => {
      const r = results[i];
      const { m, n, k } = layer.gemm;
      process.stdout.write(
        `${layer.name.padEnd(width)}  ${String(m).padStart(6)} ${String(n).padStart(6)} ${String(k).padStart(6)}  ` +
          `${String(r.totalCycles).padStart(10)} ${String(r.stallCycles).padStart(9)}  ${r.mappingEfficiencyPct.toFixed(1).padStart(6)}% ${r.computeUtilPct.toFixed(1).padStart(5)}%\n`,
      );
    });
    process.stdout.write(`wrote ${paths.join(', ')}\n`);
  },
};
