// yargs module for `usock listen`: its options and help; the work is in ./run.
import { accessOptions, countOption, framingOptions, maxConnsExecOptions, serverOptions, shutdownOptions, timeoutOptions, type ArgvOf } from '../../cli/options';
import type { UsockCommand } from '../../cli/registry';

export const listenOptions = {
  'keep-open': { alias: 'k', type: 'boolean', describe: 'keep accepting; serve peers concurrently (stream, seqpacket)' },
  exec: { type: 'string', describe: 'run `sh -c CMD` for each connection, stdin and stdout on it', requiresArg: true },
  'exec-socket': { type: 'boolean', describe: 'seqpacket --exec: give CMD the socket itself (it reads whole messages), not lines relayed with --frame' },
  ...maxConnsExecOptions,
  ...shutdownOptions,
  ...timeoutOptions,
  ...countOption('N messages received (dgram, seqpacket), or with -k N connections served'),
  ...serverOptions,
  ...framingOptions,
  ...accessOptions,
} as const;

export type ListenArgv = ArgvOf<typeof listenOptions>;

export const listenCommand: UsockCommand<ListenArgv> = {
  command: 'listen <address>',
  describe: 'bind ADDRESS, copy the peer\'s data to stdout and stdin to the peer',
  builder: (y) => y.positional('address', { type: 'string', describe: 'socket path or @abstract name' }).options(listenOptions),
  run: async (argv) => (await import('./run')).runListen(argv),
};
