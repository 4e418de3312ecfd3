// `usock listen` as data: its address, its options and where each applies; the work is in ./run.
import {
  accessOptions,
  countOption,
  EXEC_MAX_CONNS,
  framingOptions,
  maxConnsOption,
  serverOptions,
  shutdownOptions,
  timeoutOption,
} from '../../cli/common-options';
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';
import { flag, text } from '../../cli/values';

/** --max-conns without -k and with --exec: as ncat, each connection of --exec is a process. */
export const MAX_CONNS = { exec: EXEC_MAX_CONNS, relay: maxConnsOption.default };

const NOT_DGRAM = {
  types: ['dgram'],
  why: 'a dgram listener receives from every sender anyway: it applies to stream and seqpacket only',
} as const;
const ONE_PEER = 'it applies to the one peer of a stream or seqpacket listen without -k or --exec';
const SHUTDOWN_RULES = [
  { types: ['dgram'], why: ONE_PEER },
  { with: ['keepOpen'], why: ONE_PEER },
  { with: ['exec'], why: ONE_PEER },
] as const;
const FRAMING_RULES = [
  { types: ['stream'], with: ['exec'], why: 'the command reads and writes the socket' },
  { with: ['execSocket'], why: 'the command reads and writes the socket' },
] as const;

export const listenSpec = {
  name: 'listen',
  summary: "bind ADDRESS, copy the peer's data to stdout and stdin to the peer",
  positionals: { address: { kind: 'address', required: true, help: 'socket path or @abstract name' } },
  inherits: { from: ['address'], role: 'serve' },
  options: {
    keepOpen: { value: flag(), short: 'k', help: 'keep accepting; serve peers concurrently (stream, seqpacket)', notWhen: [NOT_DGRAM] },
    exec: {
      value: text('CMD'),
      help: 'run `sh -c CMD` for each connection, stdin and stdout on it',
      notWhen: [{ types: ['dgram'], why: 'a dgram listener has no connection to give a command: use -t stream or -t seqpacket' }],
    },
    execSocket: {
      value: flag(),
      help: 'seqpacket --exec: give CMD the socket itself (it reads whole messages), not lines relayed with --frame',
      notWhen: [
        { without: ['exec'], why: 'on seqpacket CMD gets the socket instead of relayed lines' },
        { types: ['stream', 'dgram'], why: 'elsewhere CMD gets the socket anyway: it applies to -t seqpacket only' },
      ],
    },
    maxConns: {
      value: maxConnsOption.value,
      defaultHelp: `${MAX_CONNS.exec} with --exec, ${MAX_CONNS.relay} otherwise`,
      help: maxConnsOption.help,
      notWhen: [{ without: ['keepOpen'], why: 'without it listen serves one connection' }, ...maxConnsOption.notWhen],
    },
    shutdownDelay: { ...shutdownOptions.shutdownDelay, notWhen: [...SHUTDOWN_RULES, ...shutdownOptions.shutdownDelay.notWhen] },
    noShutdown: { ...shutdownOptions.noShutdown, notWhen: SHUTDOWN_RULES },
    timeout: timeoutOption,
    count: {
      ...countOption('N messages received (dgram, seqpacket), or with -k N connections served'),
      notWhen: [
        {
          types: ['stream'],
          without: ['keepOpen'],
          why: 'a stream has no messages to count: it applies to dgram and seqpacket, or with -k (connections served)',
        },
      ],
    },
    ...serverOptions,
    frame: { ...framingOptions.frame, notWhen: [...FRAMING_RULES, ...framingOptions.frame.notWhen] },
    maxSize: { ...framingOptions.maxSize, notWhen: [...FRAMING_RULES, ...framingOptions.maxSize.notWhen] },
    ...accessOptions,
  },
} as const satisfies CommandSpec;

export type ListenSettings = SettingsOf<typeof listenSpec>;

export const listenCommand = command(listenSpec, async (settings) => (await import('./run')).runListen(settings));
