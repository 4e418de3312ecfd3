// `usock send-fd` as data: its address and FILEs, its options and where each applies; the work is in ./run.
import { accessOptions, maxConnsOption, onlyWhen, serverOptions, timeoutOption } from '../../cli/common-options';
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';
import { flag, repeatable, text } from '../../cli/values';

const LISTEN_ONLY = { without: ['listen'], why: 'send-fd binds ADDRESS only with --listen' } as const;

export const sendFdSpec = {
  name: 'send-fd',
  summary: 'pass FILEs and descriptors (SCM_RIGHTS) to ADDRESS, or to every client that connects',
  positionals: {
    address: { kind: 'address', required: true, help: 'socket path or @abstract name' },
    files: { kind: 'file', variadic: true, help: 'files to open and send, in order (read-only by default)' },
  },
  inherits: { from: ['address'], role: 'serve', with: 'listen' },
  options: {
    listen: { value: flag(), help: "bind ADDRESS and send to every client (dgram: reply to every datagram's sender)" },
    write: { value: flag(), help: 'open FILEs read-write (created if missing)' },
    append: { value: flag(), help: 'open FILEs for appending (created if missing)' },
    fd: { value: repeatable(text('FD')), help: "also send this descriptor of usock's own (repeatable; --fd 0 is stdin)" },
    message: { value: text('TEXT'), default: '\0', defaultHelp: 'one NUL byte', help: 'the data sent with the descriptors' },
    ...onlyWhen({ maxConns: maxConnsOption }, LISTEN_ONLY),
    timeout: timeoutOption,
    ...onlyWhen({ ...serverOptions, ...accessOptions }, LISTEN_ONLY),
  },
} as const satisfies CommandSpec;

export type SendFdSettings = SettingsOf<typeof sendFdSpec>;

export const sendFdCommand = command(sendFdSpec, async (settings) => (await import('./run')).runSendFd(settings));
