// yargs module for `usock connect`: its options and help; the work is in ./run.
import { countOption, framingOptions, shutdownOptions, timeoutOptions, type ArgvOf } from '../../cli/options';
import { DEFAULTS } from '../../cli/options';
import type { UsockCommand } from '../../cli/registry';

export const connectOptions = {
  probe: { alias: 'z', type: 'boolean', describe: 'connect and close without sending; exit 0 if something accepts' },
  bind: { type: 'string', describe: 'bind the client socket to this address first (every type; dgram default: autobind)', requiresArg: true },
  wait: { type: 'string', defaultDescription: String(DEFAULTS.wait), describe: 'dgram: after stdin EOF, wait this many seconds for more replies', requiresArg: true },
  as: { type: 'string', describe: 'connect as this user and its groups (root only)', requiresArg: true },
  exec: { type: 'string', describe: 'run `sh -c CMD` with its stdin and stdout on the connection', requiresArg: true },
  'exec-socket': { type: 'boolean', describe: 'seqpacket --exec: give CMD the socket itself (it reads whole messages), not lines relayed with --frame' },
  retry: { type: 'string', describe: 'while the address is missing, refuses or its backlog is full, try again for this many seconds (then 75)', requiresArg: true },
  ...shutdownOptions,
  ...timeoutOptions,
  ...countOption('N messages received (dgram, seqpacket)'),
  ...framingOptions,
} as const;

export type ConnectArgv = ArgvOf<typeof connectOptions>;

export const connectCommand: UsockCommand<ConnectArgv> = {
  command: 'connect <address>',
  describe: 'connect to ADDRESS, copy stdin to the peer and the peer\'s data to stdout',
  builder: (y) => y.positional('address', { type: 'string', describe: 'socket path or @abstract name' }).options(connectOptions),
  run: async (argv) => (await import('./run')).runConnect(argv),
};
