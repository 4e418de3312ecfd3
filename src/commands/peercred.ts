// yargs module for `usock peercred`: options and help; the work is in ../peercred.
import type { UsockCommand } from './options';
import { accessOptions, serverOptions } from './options';

export const peercredCommand: UsockCommand = {
  command: 'peercred <address>',
  describe: 'print the credentials of the process listening at ADDRESS, or of each client that connects',
  builder: (y) =>
    y
      .positional('address', { type: 'string', describe: 'socket path or @abstract name' })
      .options({
        listen: { type: 'boolean', describe: 'bind ADDRESS and print one record per client (dgram: per message)' },
        ...serverOptions,
        ...accessOptions,
      }),
  run: async (argv) => (await import('../peercred')).runPeercred(argv),
};
