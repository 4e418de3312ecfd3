// Option definitions (defaults written once, here), the argv type each command infers from them, and the checks that turn values into typed settings.
import type { InferredOptionTypes, Options } from 'yargs';
import { UsageError } from '../errors';
import { FRAME_MODES, type FrameMode } from '../io/framing';
import { parseAccessRules, type AccessRules } from '../net/access';
import { readFileSync } from 'node:fs';
import { isInherited, parseAddress, parseInherited, type NamedAddress, type SocketAddress } from '../net/address';
import { inspectInherited, type InheritedRole } from '../net/inherited';
import type { ServerSpec } from '../net/server';
import { cannotCreate, parseMode } from '../net/socketfile';
import { Reporter } from '../report/reporter';
import { escapeBytes } from '../report/text';
import type { SocketType } from '../sys/socket';

/** Defaults of options whose presence matters (an option given where it does not apply is a usage error), applied by the functions below. */
export const DEFAULTS = {
  frame: 'line' as FrameMode,
  maxSize: 262144,
  wait: 0.5,
  /** --shutdown-delay: seconds the peer must be quiet after stdin's end before the write side is shut down. */
  shutdownDelay: 0.25,
  backlog: 4096,
  maxFds: 64,
  message: '\0',
  maxConns: 10000,
  /** --max-conns with --exec, as ncat: each connection is a process. */
  maxConnsExec: 100,
};

export const globalOptions = {
  type: {
    alias: 't',
    // `auto` only where a command adds it (connect, for -z: cli/registry); typed as a string, so that a command may compare it with 'auto'.
    choices: ['stream', 'dgram', 'seqpacket'] as string[],
    // No default here: with fd:N and sd: an unset -t takes the inherited socket's type (socketTypeFor); stream otherwise (concreteType).
    defaultDescription: 'stream; with fd:N or sd:, the socket\'s own',
    describe: 'socket type',
    global: true,
    requiresArg: true,
  },
  json: { type: 'boolean', describe: 'machine-readable output, one JSON object per line', global: true },
  verbose: { alias: 'v', type: 'boolean', describe: 'diagnostics on stderr', global: true },
  quiet: { alias: 'q', type: 'boolean', describe: 'no diagnostics, only errors', global: true },
} as const satisfies Record<string, Options>;

export const framingOptions = {
  frame: {
    choices: FRAME_MODES,
    defaultDescription: DEFAULTS.frame,
    describe: 'message framing on stdin/stdout (dgram and seqpacket only)',
    requiresArg: true,
  },
  'max-size': {
    type: 'string',
    defaultDescription: String(DEFAULTS.maxSize),
    describe: 'largest message in bytes; larger ones are reported and counted',
    requiresArg: true,
  },
} as const satisfies Record<string, Options>;

export const accessOptions = {
  'allow-uid': { type: 'array', string: true, nargs: 1, describe: 'accept peers with this uid (repeatable)', requiresArg: true },
  'allow-gid': { type: 'array', string: true, nargs: 1, describe: 'accept peers with this gid (repeatable)', requiresArg: true },
  'allow-user': { type: 'array', string: true, nargs: 1, describe: 'accept peers running as this user (repeatable)', requiresArg: true },
  'allow-group': { type: 'array', string: true, nargs: 1, describe: 'accept peers whose gid is this group (repeatable)', requiresArg: true },
} as const satisfies Record<string, Options>;

export const serverOptions = {
  mode: { type: 'string', describe: 'permission bits of the socket file (octal), applied race-free', requiresArg: true },
  backlog: { type: 'string', defaultDescription: String(DEFAULTS.backlog), describe: 'listen(2) backlog (stream, seqpacket)', requiresArg: true },
} as const satisfies Record<string, Options>;

/** --max-conns, with its default as help shows it. */
function maxConnsOption(defaultDescription: string) {
  return {
    'max-conns': {
      type: 'string',
      defaultDescription,
      describe: 'connections served at once; more clients wait in the backlog, neither accepted nor dropped',
      requiresArg: true,
    },
  } as const satisfies Record<string, Options>;
}

export const maxConnsOptions = maxConnsOption(String(DEFAULTS.maxConns));
/** listen's --max-conns, whose default depends on --exec. */
export const maxConnsExecOptions = maxConnsOption(`${DEFAULTS.maxConnsExec} with --exec, ${DEFAULTS.maxConns} otherwise`);

/** Returns --max-conns, checked (its default: 100 with --exec, 10,000 otherwise). Throws UsageError. */
export function maxConnsOf(argv: { 'max-conns'?: string }, exec: boolean): number {
  return wholeNumber('max-conns', argv['max-conns'] ?? (exec ? DEFAULTS.maxConnsExec : DEFAULTS.maxConns), 1, 1 << 20);
}

/** -w/--timeout: the idle timeout of usock(1), ENDING A CONVERSATION. */
export const timeoutOptions = {
  timeout: {
    alias: 'w',
    type: 'string',
    describe: 'idle timeout in seconds: a conversation idle that long ends as if the peer had closed (75 when nothing came at all)',
    requiresArg: true,
  },
} as const satisfies Record<string, Options>;

/** --shutdown-delay and --no-shutdown: when a stream or seqpacket relay shuts its write side down after stdin's end. */
export const shutdownOptions = {
  'shutdown-delay': {
    type: 'string',
    defaultDescription: String(DEFAULTS.shutdownDelay),
    describe: 'after stdin EOF, shut down the write side once the peer has been quiet this many seconds (0: at once)',
    requiresArg: true,
  },
  'no-shutdown': { type: 'boolean', describe: 'at stdin EOF keep the write side open; read until the peer closes (or -w)' },
} as const satisfies Record<string, Options>;

/** Returns the --shutdown-delay in milliseconds (its default when not given). Throws UsageError. */
export function shutdownDelayMsOf(argv: { 'shutdown-delay'?: string }): number {
  return Math.round(seconds('shutdown-delay', argv['shutdown-delay'] ?? DEFAULTS.shutdownDelay) * 1000);
}

/** -c/--count, described as the command counts. */
export function countOption(what: string) {
  return { count: { alias: 'c', type: 'string', describe: `exit 0 after ${what}`, requiresArg: true } } as const satisfies Record<string, Options>;
}

/** Returns -w/--timeout in seconds (above 0), or null when not given. Throws UsageError. */
export function timeoutOf(argv: { timeout?: string }): number | null {
  return argv.timeout === undefined ? null : seconds('timeout', argv.timeout, true);
}

/** Returns -c/--count (1 or more), or null when not given. Throws UsageError. */
export function countOf(argv: { count?: string }): number | null {
  return argv.count === undefined ? null : wholeNumber('count', argv.count, 1);
}

/** The parsed argv of a command whose own options are O, with its positionals P. */
export type ArgvOf<O extends Record<string, Options>, P = { address: string }> =
  InferredOptionTypes<typeof globalOptions & O> & P & { '--'?: string[] };

/** Returns the number an option's text (or default) holds, NaN when it is not a plain decimal number. Numbers are options of type string, so that a bad value is shown as the user wrote it. */
function numberOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return NaN; // given twice
  const text = String(v).trim();
  return /^(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : NaN;
}

/** Returns v as a whole number in [min, max]; throws UsageError naming the option and the value as written otherwise. */
export function wholeNumber(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = numberOf(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`bad --${name} '${String(v)}': expected a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Returns v as seconds (fractions allowed), more than 0 when `positive`; throws UsageError naming the option and the value as written otherwise. */
export function seconds(name: string, v: unknown, positive = false): number {
  const n = numberOf(v);
  if (!Number.isFinite(n) || n < 0 || (positive && n === 0)) {
    throw new UsageError(`bad --${name} '${String(v)}': expected ${positive ? 'a number of seconds above 0' : 'seconds, 0 or more'}`);
  }
  return n;
}

/** Returns the socket type of --type (stream when not given); throws UsageError for `auto` where the command cannot detect it. */
export function concreteType(type: string | undefined, where: string): SocketType {
  if (type === undefined) return 'stream';
  if (type === 'stream' || type === 'dgram' || type === 'seqpacket') return type;
  throw new UsageError(`--type ${type} is not available for ${where}`, '--type auto works with connect -z; give -t stream, dgram or seqpacket');
}

/** Throws UsageError (64) for the first of names that argv holds: those options do not apply here (`why` says why). */
export function rejectOptions(argv: Record<string, unknown>, names: readonly string[], why: string): void {
  for (const name of names) {
    const v = argv[name];
    if (v !== undefined && v !== false) throw new UsageError(`--${name} ${why}`);
  }
}

/** The options of the access rules, by name. */
export const ACCESS_OPTION_NAMES = Object.keys(accessOptions);
/** The options of a bound socket, by name. */
export const SERVER_OPTION_NAMES = Object.keys(serverOptions);

/** Message framing settings: the framing of stdin/stdout and the largest message. */
export interface Framing { frame: FrameMode; maxSize: number }

/** Returns the framing for type: --frame and --max-size apply to dgram and seqpacket only. Throws UsageError. */
export function framingFor(argv: { frame?: string; 'max-size'?: string }, type: SocketType): Framing {
  if (type === 'stream') rejectOptions(argv, ['frame', 'max-size'], 'applies to dgram and seqpacket only (a stream carries bytes, not messages)');
  return {
    frame: (argv.frame ?? DEFAULTS.frame) as FrameMode,
    maxSize: wholeNumber('max-size', argv['max-size'] ?? DEFAULTS.maxSize, 1, 1 << 30),
  };
}

/** Returns the reporter for -v, -q and --json. */
export function reporterOf(argv: { json?: boolean; verbose?: boolean; quiet?: boolean }): Reporter {
  return new Reporter({ verbose: argv.verbose, quiet: argv.quiet, json: argv.json });
}

type AccessArgv = { 'allow-uid'?: string[]; 'allow-gid'?: string[]; 'allow-user'?: string[]; 'allow-group'?: string[] };

/** Returns the access rules of --allow-*, or null when none is given. Throws UsageError for a bad id or an unknown name. */
export function accessRulesOf(argv: AccessArgv): AccessRules | null {
  return parseAccessRules({
    uids: (argv['allow-uid'] ?? []).map(String),
    gids: (argv['allow-gid'] ?? []).map(String),
    users: (argv['allow-user'] ?? []).map(String),
    groups: (argv['allow-group'] ?? []).map(String),
  });
}

/**
 * Returns the spec of the server a command binds: address, type, --mode, --backlog (stream and
 * seqpacket only) and the access rules, all checked. Throws UsageError. The caller releases the address
 * (openServer does).
 */
export function serverSpecOf(argv: AccessArgv & { address: string; mode?: string; backlog?: string; 'max-conns'?: string }, type: SocketType, reporter: Reporter, name: string): ServerSpec {
  if (type === 'dgram') rejectOptions(argv, ['backlog', 'max-conns'], 'applies to stream and seqpacket only (a dgram socket does not listen)');
  const rules = accessRulesOf(argv);
  const mode = parseMode(argv.mode);
  const backlog = wholeNumber('backlog', argv.backlog ?? DEFAULTS.backlog, 1, 1 << 20);
  let address: SocketAddress;
  try {
    address = inheritableAddressOf(argv.address);
  } catch (err) {
    throw cannotCreate(err, name, argv.address); // a long path's directory missing: 73, as bind would say
  }
  if (isInherited(address)) {
    const hint = 'an inherited socket is used as it was made';
    if (mode !== undefined) throw new UsageError(`--mode does not apply to ${argv.address}: usock does not create its file`, hint);
    if (argv.backlog !== undefined) throw new UsageError(`--backlog does not apply to ${argv.address}: the socket listens already`, hint);
  }
  if (address.kind === 'abstract' && mode !== undefined) {
    throw new UsageError(`--mode does not apply to the abstract address ${argv.address}: it has no file and no permissions`, 'use --allow-uid, --allow-user, --allow-gid or --allow-group to limit who may connect');
  }
  return { address, type, mode, backlog, rules, diagnostics: reporter, name };
}

/** Throws UsageError when server options (--allow-*, --mode, --backlog, --max-conns) are given to a command that does not bind (`why` says what would). */
export function rejectServerOptions(argv: Record<string, unknown>, why: string): void {
  rejectOptions(argv, [...ACCESS_OPTION_NAMES, ...SERVER_OPTION_NAMES, 'max-conns'], why);
}

let commandLine: Buffer[] | null | undefined;

/** Returns usock's own arguments as the bytes the kernel holds (/proc/self/cmdline), or null where /proc does not show them. */
function commandLineBytes(): Buffer[] | null {
  if (commandLine !== undefined) return commandLine;
  try {
    const raw = readFileSync('/proc/self/cmdline');
    const parts: Buffer[] = [];
    for (let start = 0; start < raw.length;) {
      const end = raw.indexOf(0, start);
      parts.push(raw.subarray(start, end < 0 ? raw.length : end));
      start = end < 0 ? raw.length : end + 1;
    }
    const own = process.argv.length - 2; // node and its script come first
    commandLine = own >= 0 && parts.length >= own ? parts.slice(parts.length - own) : null;
  } catch {
    commandLine = null;
  }
  return commandLine;
}

/**
 * Returns an argument as the user gave it: Node decodes arguments as UTF-8 and puts U+FFFD where bytes
 * are not; then the exact bytes are taken from the command line (as `ARG` or `--option=ARG`), so that
 * usock never binds or connects to a name the user did not write. Throws UsageError (64) where the
 * bytes cannot be told for sure: /proc does not show them, or two arguments that differ decode alike.
 */
export function exactArg(text: string): string | Buffer {
  if (!text.includes('\uFFFD')) return text;
  const found: Buffer[] = [];
  for (const raw of commandLineBytes() ?? []) {
    const eq = raw.indexOf(0x3d); // '='
    const value = raw.toString('utf8') === text ? raw
      : raw[0] === 0x2d && eq > 0 && raw.subarray(eq + 1).toString('utf8') === text ? raw.subarray(eq + 1) : null;
    if (value && !found.some((f) => f.equals(value))) found.push(value);
  }
  if (found.length === 1) return found[0]!;
  throw new UsageError(found.length === 0
    ? `'${text}' holds bytes that are not UTF-8, and /proc/self/cmdline does not show which`
    : `two arguments differ only in bytes that are not UTF-8 (${found.map(escapeBytes).join(', ')}): usock cannot tell which is which`,
  'give such names through a UTF-8 path, e.g. a symbolic link to the directory');
}

/**
 * Returns the path or abstract name an argument names, byte for byte (see exactArg). Throws as
 * parseAddress does, and UsageError (64) for fd:N and sd: (they serve, or connect: see
 * inheritableAddressOf). The caller releases it.
 */
export function addressOf(text: string): NamedAddress {
  const address = inheritableAddressOf(text);
  if (isInherited(address)) {
    throw new UsageError(`${text}: an inherited socket does not apply here: give a path or @name`, 'fd:N and sd: serve listen, echo-server, tap\'s LISTEN and --listen; connect takes fd:N');
  }
  return address;
}

/** Returns the address an argument names, byte for byte (see exactArg): a path, @name, or an inherited socket (fd:N, sd:NAME, sd:). Throws as parseAddress does; the caller releases it. */
export function inheritableAddressOf(text: string): SocketAddress {
  return parseAddress(exactArg(text));
}

/**
 * Returns the socket type of a command on addressText: with fd:N or sd:, the inherited socket's own
 * (checked for role as net/inherited says; a different -t given is a UsageError); otherwise -t,
 * stream when not given. Throws UsageError (64), SysError.
 */
export function socketTypeFor(argv: { type?: string }, addressText: string | undefined, where: string, role: InheritedRole): SocketType {
  const inherited = addressText === undefined ? null : parseInherited(addressText);
  if (!inherited) return concreteType(argv.type, where);
  return inspectInherited(inherited, role, argv.type === undefined ? undefined : concreteType(argv.type, where)).type;
}
