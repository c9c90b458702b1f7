/**
 * The `vitsim` command line: one file per command in this folder, each a yargs command module.
 * User mistakes (UserError, bad flags) print one line and exit non-zero; bugs keep their stack trace.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError } from '../config/errors.js';
import { withCommands } from './commands.js';

export async function main(argv: string[]): Promise<void> {
  const parser = withCommands(yargs(argv))
    .scriptName('vitsim')
    .usage('$0 <command> [options]\n\nSimulator and design-space explorer for accelerators that run quantized Vision Transformers.')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .wrap(process.stdout.isTTY ? Math.min(120, process.stdout.columns) : 100)
    .fail((message, error) => {
      if (error) throw error;
      // yargs puts the detail of some messages on later lines ("Invalid values:\n  Argument: …"); the
      // one-line rule keeps all of it on one.
      throw new UserError(`vitsim: ${message.trim().replace(/\s*\n\s*/g, ' ')}`);
    });
  await parser.parseAsync();
}

try {
  await main(hideBin(process.argv));
} catch (err) {
  if (err instanceof UserError) {
    process.stderr.write(`${err.message.split('\n')[0]}\n`);
    process.exitCode = err.exitCode;
  } else {
    throw err;
  }
}
