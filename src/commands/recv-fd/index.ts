// yargs module for `usock recv-fd`: its options and help, `-- CMD ARGS` kept apart in argv['--']; the work is in ./run.
import { accessOptions, DEFAULTS, serverOptions, timeoutOptions, type ArgvOf } from '../../cli/options';
import type { UsockCommand } from '../../cli/registry';

export const recvFdOptions = {
  listen: { type: 'boolean', describe: 'bind ADDRESS and receive from the first client (dgram: the first datagram)' },
  info: { type: 'boolean', describe: 'describe each descriptor (kind, target, open flags) instead of reading it' },
  'max-fds': { type: 'string', defaultDescription: String(DEFAULTS.maxFds), describe: 'keep at most N descriptors; extras are closed at once', requiresArg: true },
  ...timeoutOptions,
  ...serverOptions,
  ...accessOptions,
} as const;

export type RecvFdArgv = ArgvOf<typeof recvFdOptions>;

export const recvFdCommand: UsockCommand<RecvFdArgv> = {
  command: 'recv-fd <address>',
  describe: 'receive descriptors (SCM_RIGHTS) from ADDRESS: copy their data to stdout, describe them, or run `-- CMD` with them',
  builder: (y) =>
    y
      .parserConfiguration({ 'populate--': true })
      .usage('usock recv-fd [options] <address> [-- CMD [ARGS...]]')
      .positional('address', { type: 'string', describe: 'socket path or @abstract name' })
      .options(recvFdOptions)
      .epilogue('After --, CMD runs with the descriptors as fd 3, 4, ... and USOCK_FDS="3 4 ..."; usock exits with its status.'),
  run: async (argv) => (await import('./run')).runRecvFd(argv),
};
