// yargs module for `usock activate`: its options and help, `-- CMD ARGS` kept apart in argv['--']; the work is in ./run.
import { accessOptions, DEFAULTS, maxConnsOptions, serverOptions, type ArgvOf } from '../../cli/options';
import type { UsockCommand } from '../../cli/registry';

export const activateOptions = {
  fdname: {
    type: 'array',
    string: true,
    nargs: 1,
    describe: 'name of the next ADDRESS in LISTEN_FDNAMES (repeatable; default its last component)',
    requiresArg: true,
  },
  now: { type: 'boolean', describe: 'start CMD at once, not at the first connection or datagram' },
  accept: { type: 'boolean', describe: 'one CMD per connection, the connection as fd 3 (Accept=yes)' },
  inetd: { type: 'boolean', describe: 'one CMD per connection, the connection on its stdin and stdout' },
  setenv: {
    alias: 'E',
    type: 'array',
    string: true,
    nargs: 1,
    describe: "set VAR for CMD (without =VALUE: usock's own value; repeatable)",
    requiresArg: true,
  },
  'ready-timeout': {
    type: 'string',
    describe: 'seconds CMD has to send READY=1; then it gets SIGTERM and usock exits 75',
    requiresArg: true,
  },
  'max-conns': {
    ...maxConnsOptions['max-conns'],
    defaultDescription: String(DEFAULTS.maxConnsExec),
    describe: 'with --accept or --inetd: commands running at once; more clients wait in the backlog',
  },
  ...serverOptions,
  ...accessOptions,
} as const;

export type ActivateArgv = ArgvOf<typeof activateOptions, { address: string[] }>;

export const activateCommand: UsockCommand<ActivateArgv> = {
  command: 'activate <address..>',
  describe: 'socket activation: bind every ADDRESS, run `-- CMD` with them as fd 3, 4, ... (LISTEN_FDS), show its readiness',
  builder: (y) =>
    y
      .usage('usock activate [options] ADDRESS... -- CMD [ARGS...]')
      .positional('address', { type: 'string', array: true, describe: 'socket paths or @abstract names, handed over in this order' })
      .options(activateOptions)
      .epilogue(
        [
          'CMD (no shell) starts at the first connection or datagram (that client waits in the backlog), or at once with --now,',
          'with LISTEN_FDS, LISTEN_PID (its own pid), LISTEN_FDNAMES and NOTIFY_SOCKET; each notification it sends',
          "(READY=1, STATUS=...) is shown with the sender's pid. Signals go to CMD; usock exits with its status",
          '(127: not found, 126: not runnable) and removes the socket files it created.',
        ].join('\n'),
      ),
  run: async (argv) => (await import('./run')).runActivate(argv),
};
