// `usock recv-fd` as data: its address, `-- CMD ARGS`, its options and where each applies; the work is in ./run.
import { accessOptions, onlyWhen, serverOptions, timeoutOption } from '../../cli/common-options';
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';
import { flag, wholeNumber } from '../../cli/values';
import { SCM_MAX_FD } from '../../sys/platform/linux';

export const recvFdSpec = {
  name: 'recv-fd',
  summary: 'receive descriptors (SCM_RIGHTS) from ADDRESS: copy their data to stdout, describe them, or run `-- CMD` with them',
  positionals: { address: { kind: 'address', required: true, help: 'socket path or @abstract name' } },
  rest: { label: 'CMD [ARGS...]', help: 'a command to run with the descriptors' },
  inherits: { from: ['address'], role: 'serve', with: 'listen' },
  options: {
    listen: { value: flag(), help: 'bind ADDRESS and receive from the first client (dgram: the first datagram)' },
    info: { value: flag(), help: 'describe each descriptor (kind, target, open flags) instead of reading it' },
    maxFds: { value: wholeNumber(1, SCM_MAX_FD), default: 64, help: 'keep at most N descriptors; extras are closed at once' },
    timeout: timeoutOption,
    ...onlyWhen({ ...serverOptions, ...accessOptions }, { without: ['listen'], why: 'recv-fd binds ADDRESS only with --listen' }),
  },
  epilogue: 'After --, CMD runs with the descriptors as fd 3, 4, ... and USOCK_FDS="3 4 ..."; usock exits with its status.',
} as const satisfies CommandSpec;

export type RecvFdSettings = SettingsOf<typeof recvFdSpec>;

export const recvFdCommand = command(recvFdSpec, async (settings) => (await import('./run')).runRecvFd(settings));
