// yargs module for `usock send-fd`: its options and help; the work is in ./run.
import { accessOptions, maxConnsOptions, serverOptions, timeoutOptions, type ArgvOf } from '../../cli/options';
import type { UsockCommand } from '../../cli/registry';

export const sendFdOptions = {
  listen: { type: 'boolean', describe: 'bind ADDRESS and send to every client (dgram: reply to every datagram\'s sender)' },
  write: { type: 'boolean', describe: 'open FILEs read-write (created if missing)' },
  append: { type: 'boolean', describe: 'open FILEs for appending (created if missing)' },
  fd: { type: 'array', string: true, nargs: 1, describe: 'also send this descriptor of usock\'s own (repeatable; --fd 0 is stdin)', requiresArg: true },
  message: { type: 'string', defaultDescription: 'one NUL byte', describe: 'the data sent with the descriptors', requiresArg: true },
  ...maxConnsOptions,
  ...timeoutOptions,
  ...serverOptions,
  ...accessOptions,
} as const;

export type SendFdArgv = ArgvOf<typeof sendFdOptions, { address: string; files?: string[] }>;

export const sendFdCommand: UsockCommand<SendFdArgv> = {
  command: 'send-fd <address> [files..]',
  describe: 'pass FILEs and descriptors (SCM_RIGHTS) to ADDRESS, or to every client that connects',
  builder: (y) =>
    y
      .positional('address', { type: 'string', describe: 'socket path or @abstract name' })
      .positional('files', { type: 'string', array: true, describe: 'files to open and send, in order (read-only by default)' })
      .options(sendFdOptions),
  run: async (argv) => (await import('./run')).runSendFd(argv),
};
