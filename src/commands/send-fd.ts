// yargs module for `usock send-fd`: options and help; the work is in ../sendfd.
import type { UsockCommand } from './options';
import { accessOptions, serverOptions } from './options';

export const sendFdCommand: UsockCommand = {
  command: 'send-fd <address> [files..]',
  describe: 'pass FILEs and descriptors (SCM_RIGHTS) to ADDRESS, or to every client that connects',
  builder: (y) =>
    y
      .positional('address', { type: 'string', describe: 'socket path or @abstract name' })
      .positional('files', { type: 'string', array: true, describe: 'files to open and send, in order (read-only by default)' })
      .options({
        listen: { type: 'boolean', describe: 'bind ADDRESS and send to every client (dgram: reply to every datagram\'s sender)' },
        write: { type: 'boolean', describe: 'open FILEs read-write (created if missing)' },
        append: { type: 'boolean', describe: 'open FILEs for appending (created if missing)' },
        fd: { type: 'array', string: true, nargs: 1, describe: 'also send this descriptor of usock\'s own (repeatable; --fd 0 is stdin)', requiresArg: true },
        message: { type: 'string', default: '\0', defaultDescription: 'one NUL byte', describe: 'the data sent with the descriptors', requiresArg: true },
        ...serverOptions,
        ...accessOptions,
      }),
  run: async (argv) => (await import('../sendfd')).runSendFd(argv),
};
