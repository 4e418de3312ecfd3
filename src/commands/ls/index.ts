// yargs module for `usock ls`: its options and help; the work is in ./run.
import type { ArgvOf } from '../../cli/options';
import type { UsockCommand } from '../../cli/registry';

export const lsOptions = {
  listening: { type: 'boolean', describe: 'only listening sockets' },
  pid: { type: 'string', describe: 'only the sockets process N holds open', requiresArg: true },
} as const;

export type LsArgv = ArgvOf<typeof lsOptions, { prefix?: string }>;

export const lsCommand: UsockCommand<LsArgv> = {
  command: 'ls [prefix]',
  describe: 'list the Unix sockets of the system: address, type, state, inode, peer, pid and command',
  builder: (y) => y.positional('prefix', { type: 'string', describe: 'only addresses that start with PREFIX (a path, relative to the current directory, or @abstract)' }).options(lsOptions)
    // -t filters by type here: the global option without its default (stream), so that no -t lists every type.
    .default('type', undefined).describe('type', 'only sockets of this type (stream, dgram, seqpacket; all types when not given)'),
  run: async (argv) => (await import('./run')).runLs(argv),
};
