// `usock peercred` as data: its address, its options and where each applies; the work is in ./run.
import { accessOptions, countOption, maxConnsOption, onlyWhen, serverOptions, timeoutOption } from '../../cli/common-options';
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';
import { flag } from '../../cli/values';

const LISTEN_ONLY = { without: ['listen'], why: 'peercred binds ADDRESS only with --listen' } as const;

export const peercredSpec = {
  name: 'peercred',
  summary: 'print the credentials of the process listening at ADDRESS, or of each client that connects',
  positionals: { address: { kind: 'address', required: true, help: 'socket path or @abstract name' } },
  inherits: { from: ['address'], role: 'serve', with: 'listen' },
  options: {
    listen: { value: flag(), help: 'bind ADDRESS and print one record per client (dgram: per message)' },
    ...onlyWhen({ maxConns: maxConnsOption }, LISTEN_ONLY),
    timeout: timeoutOption,
    ...onlyWhen(
      { count: countOption('N records (--listen)') },
      { without: ['listen'], why: 'it counts the records of clients, which come only with --listen' },
    ),
    ...onlyWhen({ ...serverOptions, ...accessOptions }, LISTEN_ONLY),
  },
} as const satisfies CommandSpec;

export type PeercredSettings = SettingsOf<typeof peercredSpec>;

export const peercredCommand = command(peercredSpec, async (settings) => (await import('./run')).runPeercred(settings));
