// yargs module for `usock echo-server`: its options and help; the work is in ./run.
import { accessOptions, countOption, maxConnsOptions, framingOptions, serverOptions, timeoutOptions, type ArgvOf } from '../../cli/options';
import type { UsockCommand } from '../../cli/registry';

export const echoServerOptions = {
  ...maxConnsOptions,
  ...timeoutOptions,
  ...countOption('N connections served (dgram: N datagrams)'),
  ...serverOptions,
  'max-size': framingOptions['max-size'],
  ...accessOptions,
} as const;

export type EchoServerArgv = ArgvOf<typeof echoServerOptions>;

export const echoServerCommand: UsockCommand<EchoServerArgv> = {
  command: 'echo-server <address>',
  describe: 'echo every byte (stream) or message (seqpacket, dgram) back, until a signal',
  builder: (y) => y.positional('address', { type: 'string', describe: 'socket path or @abstract name' }).options(echoServerOptions),
  run: async (argv) => (await import('./run')).runEchoServer(argv),
};
