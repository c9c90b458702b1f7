/** Every command of the CLI, in the order `vitsim --help` lists them. */
import type { CommandModule } from 'yargs';
import { archCommand } from './arch.js';
import { costCommand } from './cost.js';
import { evalCommand } from './eval.js';
import { gemmCommand } from './gemm.js';
import { scalesimCommand } from './scalesim.js';
import { simulateCommand } from './simulate.js';
import { trainCommand } from './train.js';
import { traceCommand } from './trace.js';

// Each module declares its own argument types; the list only needs them as commands.
export const commands: CommandModule<object, never>[] = [
  archCommand as unknown as CommandModule<object, never>,
  costCommand as unknown as CommandModule<object, never>,
  evalCommand as unknown as CommandModule<object, never>,
  gemmCommand as unknown as CommandModule<object, never>,
  scalesimCommand as unknown as CommandModule<object, never>,
  simulateCommand as unknown as CommandModule<object, never>,
  trainCommand as unknown as CommandModule<object, never>,
  traceCommand as unknown as CommandModule<object, never>,
];
