/** Every command of the CLI, in the order `vitsim --help` lists them: the main job first, then the pipeline's order. */
import type { Argv } from 'yargs';
import { archCommand } from './arch.js';
import { costCommand } from './cost.js';
import { demoCommand } from './demo.js';
import { evalCommand } from './eval.js';
import { gemmCommand } from './gemm.js';
import { mergeCommand } from './merge.js';
import { qatCommand } from './qat.js';
import { quantizeCommand } from './quantize.js';
import { reportCommand } from './report.js';
import { scalesimCommand } from './scalesim.js';
import { simulateCommand } from './simulate.js';
import { sweepCommand } from './sweep.js';
import { trainCommand } from './train.js';
import { traceCommand } from './trace.js';

export function withCommands(parser: Argv): Argv {
  return parser
    .command(demoCommand)
    .command(trainCommand)
    .command(quantizeCommand)
    .command(qatCommand)
    .command(evalCommand)
    .command(traceCommand)
    .command(archCommand)
    .command(gemmCommand)
    .command(scalesimCommand)
    .command(simulateCommand)
    .command(costCommand)
    .command(sweepCommand)
    .command(mergeCommand)
    .command(reportCommand);
}
