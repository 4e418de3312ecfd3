// `usock connect` as data: its address, its options and where each applies; the work is in ./run.
import { countOption, framingOptions, shutdownOptions, timeoutOption } from '../../cli/common-options';
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';
import { address, choice, flag, seconds, text, user } from '../../cli/values';

const PROBE = { with: ['probe'], why: 'nothing is sent or received' } as const;
const CONNECTED = { inherited: 'address', why: 'the socket is connected already' } as const;
const EXEC = { with: ['exec'], why: 'the command reads and writes the socket' } as const;
/** --frame and --max-size with --exec: the command reads and writes the socket itself, but for seqpacket lines relayed as messages. */
const FRAMING_RULES = [
  PROBE,
  { ...EXEC, types: ['stream', 'dgram'] },
  { with: ['execSocket'], why: 'the command reads and writes the socket' },
] as const;

export const connectSpec = {
  name: 'connect',
  summary: "connect to ADDRESS, copy stdin to the peer and the peer's data to stdout",
  positionals: { address: { kind: 'address', required: true, help: 'socket path or @abstract name' } },
  inherits: { from: ['address'], role: 'connect' },
  options: {
    type: {
      value: choice(['stream', 'dgram', 'seqpacket', 'auto']),
      short: 't',
      default: 'stream',
      defaultHelp: "stream; with fd:N, the socket's own",
      help: 'socket type (auto: with -z, detect it)',
      notWhen: [{ value: 'auto', without: ['probe'], why: 'only a probe detects the type: give -t stream, dgram or seqpacket' }],
    },
    probe: { value: flag(), short: 'z', help: 'connect and close without sending; exit 0 if something accepts', notWhen: [CONNECTED] },
    bind: {
      value: address(),
      help: 'bind the client socket to this address first (every type; dgram default: autobind)',
      notWhen: [CONNECTED, { with: ['type=auto'], why: 'each type tried would bind it again: give the type' }],
    },
    wait: {
      value: seconds(),
      default: 0.5,
      help: 'dgram: after stdin EOF, wait this many seconds for more replies',
      notWhen: [
        PROBE,
        EXEC,
        { types: ['stream', 'seqpacket'], why: 'a stream or seqpacket peer ends with EOF: it applies to -t dgram only' },
      ],
    },
    as: { value: user(), help: 'connect as this user and its groups (root only)', notWhen: [CONNECTED] },
    exec: { value: text('CMD'), help: 'run `sh -c CMD` with its stdin and stdout on the connection', notWhen: [PROBE] },
    execSocket: {
      value: flag(),
      help: 'seqpacket --exec: give CMD the socket itself (it reads whole messages), not lines relayed with --frame',
      notWhen: [
        PROBE,
        { without: ['exec'], why: 'on seqpacket CMD gets the socket instead of relayed lines' },
        { types: ['stream', 'dgram'], why: 'elsewhere CMD gets the socket anyway: it applies to -t seqpacket only' },
      ],
    },
    retry: {
      value: seconds({ above0: true }),
      help: 'while the address is missing, refuses or its backlog is full, try again for this many seconds (then 75)',
      notWhen: [CONNECTED],
    },
    shutdownDelay: {
      ...shutdownOptions.shutdownDelay,
      notWhen: [
        PROBE,
        EXEC,
        { types: ['dgram'], why: 'a dgram socket has no write side to shut down' },
        ...shutdownOptions.shutdownDelay.notWhen,
      ],
    },
    noShutdown: {
      ...shutdownOptions.noShutdown,
      notWhen: [PROBE, EXEC, { types: ['dgram'], why: 'a dgram socket has no write side to shut down' }],
    },
    timeout: { ...timeoutOption, notWhen: [EXEC] },
    count: {
      ...countOption('N messages received (dgram, seqpacket)'),
      notWhen: [PROBE, EXEC, { types: ['stream'], why: 'a stream has no messages to count: it applies to dgram and seqpacket only' }],
    },
    frame: { ...framingOptions.frame, notWhen: [...FRAMING_RULES, ...framingOptions.frame.notWhen] },
    maxSize: { ...framingOptions.maxSize, notWhen: [...FRAMING_RULES, ...framingOptions.maxSize.notWhen] },
  },
} as const satisfies CommandSpec;

export type ConnectSettings = SettingsOf<typeof connectSpec>;

export const connectCommand = command(connectSpec, async (settings) => (await import('./run')).runConnect(settings));
