// Client sockets: bound first where asked (--bind, or autobind for dgram replies), connected without blocking, a full backlog waited out on a timer, the socket type detected.
import { statSync } from 'node:fs';
import { UsockError } from '../errors';
import { describeErrno, hasCode, SysError } from '../sys/errors';
import { closeQuietly, WOULD_BLOCK } from '../sys/fd';
import { bind, connect, socket, type SocketType } from '../sys/socket';
import { encodeAutobindAddress } from '../sys/sockaddr';
import type { NamedAddress } from './address';
import { kindOf } from './pathwalk';
import { readUnixSockets } from './procnet';
import { bindSocketFile, type BoundSocket } from './socketfile';

export const CONCRETE_TYPES: SocketType[] = ['stream', 'seqpacket', 'dgram'];

/** The first and the longest pause between connect attempts while the listener's backlog is full. */
const FIRST_PAUSE_MS = 1;
const LONGEST_PAUSE_MS = 100;
/** The same for --retry while nothing is there (ENOENT) or nothing accepts (ECONNREFUSED). */
const FIRST_RETRY_MS = 10;
const LONGEST_RETRY_MS = 1000;

/** How long a connect may wait: for a full backlog (always), and with `retry` for a missing or refusing address too. */
export interface ConnectPatience {
  /** Seconds to wait at most (-w or --retry); unbounded when absent. */
  seconds?: number;
  /** --retry: ENOENT and ECONNREFUSED are tried again until the time is up. */
  retry?: boolean;
}

export interface ClientSocket {
  fd: number;
  /** The --bind socket, if any: close it (removing its file) when done, not fd. */
  bound?: BoundSocket;
}

/**
 * Returns a socket of type connected to address. It is bound first to bindTo when given (every type:
 * the peer sees that address), else a dgram socket autobinds so that replies can arrive. Throws
 * SysError/UsockError; closes what it opened on failure. The caller releases address.
 */
export async function connectTo(
  address: NamedAddress,
  type: SocketType,
  bindTo?: NamedAddress,
  patience: ConnectPatience = {},
): Promise<ClientSocket> {
  const client = bindClient(type, bindTo);
  try {
    await connectWaiting(client.fd, address, patience);
    return client;
  } catch (err) {
    if (client.bound) client.bound.close();
    else closeQuietly(client.fd);
    throw err;
  }
}

/**
 * Returns a client's socket of type before it connects: bound to bindTo when given (--bind: its socket
 * file guarded as a server's, a stale one replaced, and removed when closed), else for dgram autobound
 * so that replies can arrive, else unbound. Throws SysError/UsockError; closes what it opened on failure.
 */
export function bindClient(type: SocketType, bindTo?: NamedAddress): ClientSocket {
  if (bindTo) {
    const bound = bindSocketFile(bindTo, type);
    return { fd: bound.fd, bound };
  }
  const fd = socket(type);
  if (type === 'dgram') {
    try {
      bind(fd, encodeAutobindAddress(), 'autobind');
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
  }
  return { fd };
}

/**
 * Connects fd. While the listener's backlog is full (EAGAIN) it tries again after a growing pause
 * (1 ms up to 100 ms): an unconnected AF_UNIX socket polls writable at once, so there is no event to
 * wait for. With patience.retry, a missing address (ENOENT) or one that refuses (ECONNREFUSED) is tried
 * again too (10 ms up to 1 s). Throws SysError, or UsockError (TEMPFAIL) once patience.seconds pass,
 * naming the last reason.
 */
async function connectWaiting(fd: number, address: NamedAddress, patience: ConnectPatience): Promise<void> {
  const deadline = patience.seconds === undefined ? Infinity : Date.now() + patience.seconds * 1000;
  let backlogPause = FIRST_PAUSE_MS;
  let retryPause = FIRST_RETRY_MS;
  for (;;) {
    let pause: number;
    let last: string;
    try {
      if (connect(fd, address.sockaddr, address.text) !== WOULD_BLOCK) return;
      last = "the listener's backlog is full";
      pause = backlogPause;
      backlogPause = Math.min(backlogPause * 2, LONGEST_PAUSE_MS);
    } catch (err) {
      if (err instanceof SysError && err.code === 'ECONNREFUSED') notASocket(address);
      if (!(patience.retry && err instanceof SysError && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED'))) throw err;
      last = describeErrno(err.errno)[1];
      pause = retryPause;
      retryPause = Math.min(retryPause * 2, LONGEST_RETRY_MS);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new UsockError(`connect ${address.text}: timed out after ${patience.seconds} s (last: ${last})`, 'TEMPFAIL');
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
  }
}

/**
 * Throws UsockError (UNAVAILABLE) when the file at address (symbolic links followed, as connect does)
 * is not a socket: the kernel refuses a connect to a regular file or a directory as to a stale socket,
 * and neither waiting nor another -t helps. Returns quietly otherwise (a socket, an abstract name, or a
 * path it cannot look at).
 */
function notASocket(address: NamedAddress): void {
  const problem = unreachable(address);
  if (problem?.startsWith('not a socket')) throw new UsockError(`connect ${address.text}: ${problem}`, 'UNAVAILABLE');
}

/**
 * Returns why nothing can be reached at address, as far as a look tells without connecting: `does not
 * exist` (a path, symbolic links followed; an abstract name no socket holds in /proc/net/unix) or `not
 * a socket (KIND)`; null when something may be there, or when usock may not look.
 */
export function unreachable(address: NamedAddress): string | null {
  if (address.path === undefined) {
    const sockets = readUnixSockets();
    return sockets.length > 0 && !sockets.some((s) => s.address === address.text) ? 'does not exist' : null;
  }
  let mode: number;
  try {
    mode = statSync(address.path).mode;
  } catch (err) {
    return hasCode(err, 'ENOENT', 'ENOTDIR') ? 'does not exist' : null; // not to be looked at: the kernel's word stands
  }
  const kind = kindOf(mode);
  return kind === 'socket' ? null : `not a socket (${kind})`;
}

/** Returns a socket of type connected to address (no --bind), and releases address. Throws as connectTo does. */
export async function connectAndRelease(address: NamedAddress, type: SocketType, patience: ConnectPatience = {}): Promise<number> {
  try {
    return (await connectTo(address, type, undefined, patience)).fd;
  } finally {
    address.release();
  }
}

/** Returns the type of the socket at address, trying stream, seqpacket and dgram; throws the first type's error when none connects. */
export async function detectType(address: NamedAddress, patience: ConnectPatience = {}): Promise<SocketType> {
  let first: unknown;
  for (const type of CONCRETE_TYPES) {
    try {
      const { fd } = await connectTo(address, type, undefined, patience);
      closeQuietly(fd);
      return type;
    } catch (err) {
      first ??= err;
      if (!(err instanceof SysError && err.code === 'EPROTOTYPE')) throw err;
    }
  }
  throw first;
}
