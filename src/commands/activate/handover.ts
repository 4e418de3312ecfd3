// activate's hand-over: CMD looked up as the shell would (127 not found, 126 not runnable), the names of LISTEN_FDNAMES, -E, and CMD started with the sockets as fd 3, 4, ... and its own pid in LISTEN_PID.
import { accessSync, constants, statSync } from 'node:fs';
import { basename } from 'node:path';
import { UsageError, UsockError } from '../../errors';
import { start, type Running } from '../../proc/spawn';
import type { SocketAddress } from '../../net/address';
import { activationSockets } from '../../net/inherited';
import { F_GETFL, F_SETFL, O_NONBLOCK } from '../../sys/platform/linux';
import { fcntl } from '../../sys/fd';

/**
 * Node cannot set a variable between fork and exec, and LISTEN_PID must be CMD's own pid (daemons check
 * it): a shell puts its own pid ($$) there, then execs CMD, which keeps that pid. CMD itself runs without a shell.
 */
const SHIM_WITH_PID = 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"';
const SHIM = 'exec "$@"';
/** The shell's search path when PATH is not set (as dash and bash use). */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The longest name in LISTEN_FDNAMES (systemd's FDNAME_MAX). */
const FDNAME_MAX = 255;

/**
 * Returns the default LISTEN_FDNAMES name of address: its last component (`@NAME`: NAME; an inherited `sd:NAME`
 * keeps NAME, `sd:` the name it was passed with), bytes other than letters, digits, `_`, `.`, `-` replaced by `_`.
 */
export function defaultFdName(address: SocketAddress): string {
  const text =
    address.kind === 'abstract'
      ? address.text.slice(1)
      : address.kind === 'sd'
        ? (address.name ?? activationSockets(address.text)[0]!.name) // sd: is the only socket passed: its own name
        : basename(address.text);
  const name = Buffer.from(text)
    .toString('latin1')
    .replace(/[^A-Za-z0-9_.-]/g, '_');
  return (name === '' ? 'socket' : name).slice(0, FDNAME_MAX);
}

/** Returns the --fdname names for addresses (the default for each when none are given). Throws UsageError for a wrong count or a name LISTEN_FDNAMES cannot carry. */
export function fdNames(given: string[] | undefined, addresses: SocketAddress[]): string[] {
  if (given === undefined || given.length === 0) return addresses.map(defaultFdName);
  if (given.length !== addresses.length) {
    throw new UsageError(`${given.length} --fdname for ${addresses.length} addresses: give one per ADDRESS, in the same order`);
  }
  for (const name of given.map(String)) {
    if (name === '' || name.length > FDNAME_MAX || !/^[\x21-\x39\x3b-\x7e]+$/.test(name)) {
      throw new UsageError(`bad --fdname '${name}': expected 1 to ${FDNAME_MAX} printable ASCII characters without ':' or spaces`);
    }
  }
  return given.map(String);
}

/** Returns the variables of -E/--setenv: VAR=VALUE as given, VAR alone with usock's own value (left out when usock has none). Throws UsageError for a bad name or a LISTEN_* variable. */
export function setenvOf(given: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (given ?? []).map(String)) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`bad --setenv '${item}': expected VAR or VAR=VALUE`);
    if (/^LISTEN_(FDS|PID|FDNAMES)$/.test(name)) throw new UsageError(`--setenv ${name}: usock sets it for the sockets it hands over`);
    const value = eq < 0 ? process.env[name] : item.slice(eq + 1);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Returns the error of a command that cannot run: 127 not found, 126 found but not runnable (as the shell). */
function cannotRun(file: string, notFound: boolean, why: string): UsockError {
  return notFound
    ? new UsockError(`cannot run ${file}: ${why}`, 'COMMAND_NOT_FOUND', 'check its name and PATH')
    : new UsockError(`cannot run ${file}: ${why}`, 'CANNOT_EXECUTE');
}

/** Returns why path cannot be executed (null: it can). */
function notRunnable(path: string): string | null {
  const st = statSync(path);
  if (st.isDirectory()) return 'Is a directory (EISDIR)';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return 'Permission denied (EACCES)';
  }
  return st.isFile() ? null : 'Permission denied (EACCES)';
}

/**
 * Checks that file can run, looked up in searchPath as the shell does (a name with a slash as it is).
 * Throws UsockError: COMMAND_NOT_FOUND (127) when it is nowhere, CANNOT_EXECUTE (126) when it is there but not runnable.
 */
export function checkCommand(file: string, searchPath: string | undefined): void {
  const candidates = file.includes('/')
    ? [file]
    : (searchPath ?? DEFAULT_PATH).split(':').map((dir) => `${dir === '' ? '.' : dir}/${file}`);
  let refusal: string | null = null;
  for (const path of candidates) {
    let why: string | null;
    try {
      why = notRunnable(path);
    } catch {
      continue; // not there
    }
    if (why === null) return;
    refusal ??= why;
  }
  if (refusal !== null) throw cannotRun(file, false, refusal);
  throw cannotRun(file, true, file.includes('/') ? 'No such file or directory (ENOENT)' : 'command not found');
}

/** Makes fd blocking, as a daemon expects the sockets it inherits (systemd hands them over so). */
export function makeBlocking(fd: number): void {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
}

/** How CMD gets its sockets. */
export type HandOver =
  /** The sockets as fd 3, 4, ..., named in LISTEN_FDNAMES. */
  | { kind: 'fds'; fds: number[]; names: string[] }
  /** One connection on stdin and stdout, no LISTEN_* (--inetd). */
  | { kind: 'stdio'; fd: number };

/**
 * Starts command (checked with checkCommand) with the sockets of how, and env (which gets LISTEN_FDS and
 * LISTEN_FDNAMES; LISTEN_PID is CMD's pid, from the shim). Resolves once it runs; rejects with
 * StartError (isShortage: try again later). The sockets stay open here: the caller closes its copies.
 */
export function startWithSockets(command: string[], how: HandOver, env: NodeJS.ProcessEnv): Promise<Running> {
  const shimArgs = (shim: string) => ['-c', shim, 'sh', ...command];
  if (how.kind === 'stdio') return start('/bin/sh', shimArgs(SHIM), { stdio: [how.fd, how.fd, 'inherit'], env });
  return start('/bin/sh', shimArgs(SHIM_WITH_PID), {
    stdio: ['inherit', 'inherit', 'inherit', ...how.fds],
    env,
    activation: { LISTEN_FDS: String(how.fds.length), LISTEN_FDNAMES: how.names.join(':') },
  });
}
