// yargs module for `usock connect`: options and help; the work is in ../connect.
import type { UsockCommand } from './options';
import { framingOptions } from './options';

export const connectCommand: UsockCommand = {
  command: 'connect <address>',
  describe: 'connect to ADDRESS, copy stdin to the peer and the peer\'s data to stdout',
  builder: (y) =>
    y
      .positional('address', { type: 'string', describe: 'socket path or @abstract name' })
      .options({
        probe: { alias: 'z', type: 'boolean', describe: 'connect and close without sending; exit 0 if something accepts' },
        bind: { type: 'string', describe: 'dgram: bind this address so that replies can arrive (default: autobind)', requiresArg: true },
        wait: { type: 'number', default: 0.5, describe: 'dgram: after stdin EOF, wait this many seconds for more replies', requiresArg: true },
        as: { type: 'string', describe: 'connect as this user and its groups (root only)', requiresArg: true },
        exec: { type: 'string', describe: 'run `sh -c CMD` with its stdin and stdout on the connection', requiresArg: true },
        ...framingOptions,
      }),
  run: async (argv) => (await import('../connect')).runConnect(argv),
};
