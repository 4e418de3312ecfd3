// yargs module for `usock listen`: options and help; the work is in ../listen.
import type { UsockCommand } from './options';
import { accessOptions, framingOptions, serverOptions } from './options';

export const listenCommand: UsockCommand = {
  command: 'listen <address>',
  describe: 'bind ADDRESS, copy the peer\'s data to stdout and stdin to the peer',
  builder: (y) =>
    y
      .positional('address', { type: 'string', describe: 'socket path or @abstract name' })
      .options({
        'keep-open': { alias: 'k', type: 'boolean', describe: 'keep accepting; serve peers concurrently' },
        exec: { type: 'string', describe: 'run `sh -c CMD` for each connection, stdin and stdout on it', requiresArg: true },
        ...serverOptions,
        ...framingOptions,
        ...accessOptions,
      }),
  run: async (argv) => (await import('../listen')).runListen(argv),
};
