// yargs module for `usock peercred`: its options and help; the work is in ./run.
import { accessOptions, countOption, maxConnsOptions, serverOptions, timeoutOptions, type ArgvOf } from '../../cli/options';
import type { UsockCommand } from '../../cli/registry';

export const peercredOptions = {
  listen: { type: 'boolean', describe: 'bind ADDRESS and print one record per client (dgram: per message)' },
  ...maxConnsOptions,
  ...timeoutOptions,
  ...countOption('N records (--listen)'),
  ...serverOptions,
  ...accessOptions,
} as const;

export type PeercredArgv = ArgvOf<typeof peercredOptions>;

export const peercredCommand: UsockCommand<PeercredArgv> = {
  command: 'peercred <address>',
  describe: 'print the credentials of the process listening at ADDRESS, or of each client that connects',
  builder: (y) => y.positional('address', { type: 'string', describe: 'socket path or @abstract name' }).options(peercredOptions),
  run: async (argv) => (await import('./run')).runPeercred(argv),
};
