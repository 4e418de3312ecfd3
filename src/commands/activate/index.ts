// `usock activate` as data: its addresses, `-- CMD ARGS`, its options and where each applies; the work is in ./run.
import { accessOptions, EXEC_MAX_CONNS, maxConnsOption, onlyWhen, serverOptions } from '../../cli/common-options';
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';
import { flag, repeatable, seconds, text } from '../../cli/values';

const ONCE = 'it applies to a daemon started once, not to a CMD per connection';
const DAEMON_ONLY = [
  { with: ['accept'], why: ONCE },
  { with: ['inetd'], why: ONCE },
] as const;
const NEEDS_CONNECTIONS = { types: ['dgram'], why: 'a dgram socket is handed over whole: use -t stream or -t seqpacket' } as const;

export const activateSpec = {
  name: 'activate',
  summary: 'socket activation: bind every ADDRESS, run `-- CMD` with them as fd 3, 4, ... (LISTEN_FDS), show its readiness',
  positionals: {
    address: { kind: 'address', required: true, variadic: true, help: 'socket paths or @abstract names, handed over in this order' },
  },
  inherits: { from: ['address'], role: 'serve' },
  rest: { label: 'CMD [ARGS...]', help: 'the command the sockets are handed to (no shell)', required: true },
  options: {
    fdname: {
      value: repeatable(text('NAME')),
      help: 'name of the next ADDRESS in LISTEN_FDNAMES (repeatable; default its last component)',
      notWhen: DAEMON_ONLY,
    },
    now: { value: flag(), help: 'start CMD at once, not at the first connection or datagram', notWhen: DAEMON_ONLY },
    accept: { value: flag(), help: 'one CMD per connection, the connection as fd 3 (Accept=yes)', notWhen: [NEEDS_CONNECTIONS] },
    inetd: {
      value: flag(),
      help: 'one CMD per connection, the connection on its stdin and stdout',
      notWhen: [
        { with: ['accept'], why: '--accept hands CMD the connection as fd 3, --inetd on its stdin and stdout: give one' },
        NEEDS_CONNECTIONS,
      ],
    },
    setenv: { value: repeatable(text('VAR[=VALUE]')), short: 'E', help: "set VAR for CMD (without =VALUE: usock's own value; repeatable)" },
    readyTimeout: {
      value: seconds({ above0: true }),
      help: 'seconds CMD has to send READY=1; then it gets SIGTERM and usock exits 75',
      notWhen: DAEMON_ONLY,
    },
    ...onlyWhen(
      {
        maxConns: {
          ...maxConnsOption,
          default: EXEC_MAX_CONNS,
          help: 'with --accept or --inetd: commands running at once; more clients wait in the backlog',
        },
      },
      { without: ['accept', 'inetd'], why: 'without them the daemon accepts its clients itself' },
    ),
    ...serverOptions,
    ...onlyWhen(accessOptions, { without: ['accept', 'inetd'], why: 'without them the daemon accepts its clients itself' }),
  },
  epilogue: [
    'CMD (no shell) starts at the first connection or datagram (that client waits in the backlog), or at once with --now,',
    'with LISTEN_FDS, LISTEN_PID (its own pid), LISTEN_FDNAMES and NOTIFY_SOCKET; each notification it sends',
    "(READY=1, STATUS=...) is shown with the sender's pid. Signals go to CMD; usock exits with its status",
    '(127: not found, 126: not runnable) and removes the socket files it created.',
  ].join(' '),
} as const satisfies CommandSpec;

export type ActivateSettings = SettingsOf<typeof activateSpec>;

export const activateCommand = command(activateSpec, async (settings) => (await import('./run')).runActivate(settings));
