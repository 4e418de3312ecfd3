// yargs module for `usock echo-server`: options and help; the work is in ../echo.
import type { UsockCommand } from './options';
import { accessOptions, serverOptions } from './options';

export const echoServerCommand: UsockCommand = {
  command: 'echo-server <address>',
  describe: 'echo every byte (stream) or message (seqpacket, dgram) back, until a signal',
  builder: (y) =>
    y
      .positional('address', { type: 'string', describe: 'socket path or @abstract name' })
      .options({ ...serverOptions, 'max-size': { type: 'number', default: 262144, describe: 'largest message in bytes', requiresArg: true }, ...accessOptions }),
  run: async (argv) => (await import('../echo')).runEchoServer(argv),
};
