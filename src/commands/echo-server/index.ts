// `usock echo-server` as data: its address, its options and where each applies; the work is in ./run.
import { accessOptions, countOption, framingOptions, maxConnsOption, serverOptions, timeoutOption } from '../../cli/common-options';
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';

export const echoServerSpec = {
  name: 'echo-server',
  summary: 'echo every byte (stream) or message (seqpacket, dgram) back, until a signal',
  positionals: { address: { kind: 'address', required: true, help: 'socket path or @abstract name' } },
  inherits: { from: ['address'], role: 'serve' },
  options: {
    maxConns: maxConnsOption,
    timeout: {
      ...timeoutOption,
      notWhen: [{ types: ['dgram'], why: 'a dgram echo-server has no connections to close: it applies to stream and seqpacket only' }],
    },
    count: countOption('N connections served (dgram: N datagrams)'),
    ...serverOptions,
    maxSize: framingOptions.maxSize,
    ...accessOptions,
  },
} as const satisfies CommandSpec;

export type EchoServerSettings = SettingsOf<typeof echoServerSpec>;

export const echoServerCommand = command(echoServerSpec, async (settings) => (await import('./run')).runEchoServer(settings));
