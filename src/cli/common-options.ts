// The options every command has (-t, --json, -v, -q) and those several commands share (framing, timeout, server, access rules), as specs.
import { FRAME_MODES } from '../io/framing';
import type { SocketType } from '../sys/socket';
import type { OptionSpec } from './spec';
import { choice, flag, group, octalMode, repeatable, seconds, text, user, wholeNumber } from './values';

/** The three socket types, as -t names them. */
export const SOCKET_TYPES: readonly SocketType[] = ['stream', 'dgram', 'seqpacket'];

/** The options of every command; a command's spec may give one again (connect's -t adds auto). */
export const globalOptions = {
  type: {
    value: choice(SOCKET_TYPES),
    short: 't',
    default: 'stream',
    defaultHelp: "stream; with fd:N or sd:, the socket's own",
    help: 'socket type',
  },
  json: { value: flag(), help: 'machine-readable output, one JSON object per line' },
  verbose: { value: flag(), short: 'v', help: 'diagnostics on stderr' },
  quiet: { value: flag(), short: 'q', help: 'no diagnostics, only errors' },
} as const satisfies Record<string, OptionSpec>;

export type GlobalOptions = typeof globalOptions;

/** Types that carry messages: a stream carries bytes. */
const NOT_ON_STREAM = { types: ['stream'], why: 'a stream carries bytes, not messages: it applies to dgram and seqpacket only' } as const;

/** --frame and --max-size: how messages are written to stdout and read from stdin. */
export const framingOptions = {
  frame: {
    value: choice(FRAME_MODES),
    default: 'line',
    help: 'message framing on stdin/stdout (dgram and seqpacket only)',
    notWhen: [NOT_ON_STREAM],
  },
  maxSize: {
    value: wholeNumber(1, 1 << 30),
    default: 262144,
    help: 'largest message in bytes; larger ones are reported and counted',
    notWhen: [NOT_ON_STREAM],
  },
} as const satisfies Record<string, OptionSpec>;

/** -w/--timeout: the idle timeout of usock(1), ENDING A CONVERSATION. */
export const timeoutOption = {
  value: seconds({ above0: true }),
  short: 'w',
  help: 'idle timeout in seconds: a conversation idle that long ends as if the peer had closed (75 when nothing came at all)',
} as const satisfies OptionSpec;

/** -c/--count, described as the command counts. */
export function countOption(what: string) {
  return { value: wholeNumber(1), short: 'c', help: `exit 0 after ${what}` } as const satisfies OptionSpec;
}

/** --max-conns where each connection is a command (a process), as ncat: listen --exec, activate --accept and --inetd. */
export const EXEC_MAX_CONNS = 100;

/** --max-conns (listen's default depends on --exec: it gives its own default help, and its run the value). */
export const maxConnsOption = {
  value: wholeNumber(1, 1 << 20),
  default: 10000,
  help: 'connections served at once; more clients wait in the backlog, neither accepted nor dropped',
  notWhen: [{ types: ['dgram'], why: 'a dgram socket does not listen: it applies to stream and seqpacket only' }],
} as const satisfies OptionSpec;

/** --shutdown-delay and --no-shutdown: when a stream or seqpacket relay shuts its write side down after stdin's end. */
export const shutdownOptions = {
  shutdownDelay: {
    value: seconds(),
    default: 0.25,
    help: 'after stdin EOF, shut down the write side once the peer has been quiet this many seconds (0: at once)',
    notWhen: [{ with: ['noShutdown'], why: 'the write side is never shut down' }],
  },
  noShutdown: { value: flag(), help: 'at stdin EOF keep the write side open; read until the peer closes (or -w)' },
} as const satisfies Record<string, OptionSpec>;

/** --mode and --backlog: the socket file and the listen(2) queue of a command that binds. */
export const serverOptions = serverOptionsAt('address');

/** Returns --mode and --backlog of a command that binds the address its positional `at` names (an inherited socket, fd:N or sd:, is used as it was made). */
export function serverOptionsAt(at: string) {
  return {
    mode: {
      value: octalMode(),
      help: 'permission bits of the socket file (octal), applied race-free',
      notWhen: [{ inherited: at, why: 'usock does not create its file: an inherited socket is used as it was made' }],
    },
    backlog: {
      value: wholeNumber(1, 1 << 20),
      default: 4096,
      help: 'listen(2) backlog (stream, seqpacket)',
      notWhen: [
        { inherited: at, why: 'the socket listens already: an inherited socket is used as it was made' },
        { types: ['dgram'], why: 'a dgram socket does not listen: it applies to stream and seqpacket only' },
      ],
    },
  } as const satisfies Record<string, OptionSpec>;
}

/** --allow-*: which peers a server admits (checked by the access rules, net/access). */
export const accessOptions = {
  allowUid: { value: repeatable(text('UID')), help: 'accept peers with this uid (repeatable)' },
  allowGid: { value: repeatable(text('GID')), help: 'accept peers with this gid (repeatable)' },
  allowUser: { value: repeatable(user()), help: 'accept peers running as this user (repeatable)' },
  allowGroup: { value: repeatable(group()), help: 'accept peers whose gid is this group (repeatable)' },
} as const satisfies Record<string, OptionSpec>;

/** Returns options with `rule` checked first (before their own rules): server options of a command that binds only with --listen, say. */
export function onlyWhen<O extends Record<string, OptionSpec>>(
  options: O,
  rule: { without?: readonly string[]; with?: readonly string[]; why: string },
): O {
  const out: Record<string, OptionSpec> = {};
  for (const [key, opt] of Object.entries(options)) out[key] = { ...opt, notWhen: [rule, ...(opt.notWhen ?? [])] };
  return out as O; // the same keys and value types: only the rules differ
}
