// `usock ls` as data: its prefix and options (-t filters here, without a default); the work is in ./run.
import { SOCKET_TYPES } from '../../cli/common-options';
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';
import { choice, flag, wholeNumber } from '../../cli/values';

export const lsSpec = {
  name: 'ls',
  summary: 'list the Unix sockets of the system: address, type, state, inode, peer, pid and command',
  positionals: {
    prefix: { kind: 'text', help: 'only addresses that start with PREFIX (a path, relative to the current directory, or @abstract)' },
  },
  options: {
    type: {
      value: choice(SOCKET_TYPES),
      short: 't',
      help: 'only sockets of this type (stream, dgram, seqpacket; all types when not given)',
    },
    listening: { value: flag(), help: 'only listening sockets' },
    pid: { value: wholeNumber(1, 0x7fffffff), help: 'only the sockets process N holds open' },
  },
} as const satisfies CommandSpec;

export type LsSettings = SettingsOf<typeof lsSpec>;

export const lsCommand = command(lsSpec, async (settings) => (await import('./run')).runLs(settings));
