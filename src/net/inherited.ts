// Inherited sockets (fd:N, sd:NAME, sd:): the descriptor found (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, as socket activation passes them), checked (AF_UNIX, its type, listening or connected) and adopted non-blocking and close-on-exec.
import { fstatSync, readlinkSync } from 'node:fs';
import { UsageError } from '../errors';
import { hasCode } from '../sys/errors';
import { close } from '../sys/fd';
import { AF_UNIX } from '../sys/platform/linux';
import { getpeername, getsockname, socketTypeName, type SocketType } from '../sys/socket';
import { isListening, makeNonBlockingCloexec, socketDomain, socketTypeNumber } from '../sys/sockopt';
import type { InheritedAddress } from './address';
import { kindOf } from './pathwalk';
import type { BoundSocket } from './socketfile';

/** The first descriptor socket activation passes (SD_LISTEN_FDS_START, sd_listen_fds(3)). */
export const LISTEN_FDS_START = 3;

/** What an inherited socket is for: a server's (bound, and listening for stream and seqpacket), or connect's (connected). */
export type InheritedRole = 'serve' | 'connect';

/** The socket activation variables usock reads, and the process that reads them (LISTEN_PID must be its pid). */
export interface Activation {
  env: NodeJS.ProcessEnv;
  pid: number;
}

/** A checked inherited socket. */
export interface InheritedSocket {
  fd: number;
  type: SocketType;
  /** Its own address as usock prints it: a path, `@name`, or '' when unnamed. */
  name: string;
}

const FAMILIES: Record<number, string> = { 2: 'AF_INET', 10: 'AF_INET6', 16: 'AF_NETLINK', 17: 'AF_PACKET' };

function currentActivation(): Activation {
  return { env: process.env, pid: process.pid };
}

/**
 * Returns the descriptors socket activation passed to this process with their names (LISTEN_FDNAMES,
 * `unknown` each without it), from LISTEN_FDS starting at 3. Throws UsageError (64, about text) when
 * nothing was passed, LISTEN_PID names another process, or the variables do not agree.
 */
export function activationSockets(text: string, activation: Activation = currentActivation()): { fd: number; name: string }[] {
  const { LISTEN_PID: pid, LISTEN_FDS: count, LISTEN_FDNAMES: names } = activation.env;
  if (pid === undefined || count === undefined) {
    throw new UsageError(
      `${text}: no socket was passed by socket activation (LISTEN_PID and LISTEN_FDS are not set)`,
      'give fd:N for a socket on descriptor N',
    );
  }
  if (!/^\d+$/.test(pid) || Number(pid) !== activation.pid) {
    throw new UsageError(
      `${text}: LISTEN_PID is ${pid}, not usock's pid ${activation.pid}: the sockets were passed to another process`,
      'LISTEN_PID must be the pid of the process that runs usock (exec keeps it)',
    );
  }
  if (!/^\d{1,6}$/.test(count) || Number(count) === 0)
    throw new UsageError(`${text}: no socket was passed by socket activation (LISTEN_FDS is '${count}')`);
  const n = Number(count);
  const list = names === undefined ? Array<string>(n).fill('unknown') : names.split(':');
  if (list.length !== n) throw new UsageError(`${text}: LISTEN_FDNAMES names ${list.length} sockets, LISTEN_FDS passes ${n}`);
  return list.map((name, i) => ({ fd: LISTEN_FDS_START + i, name }));
}

/**
 * Returns the descriptor address names: N of fd:N, or the socket of sd:NAME (sd:, the only one) among
 * those activationSockets finds. Throws UsageError (64) for descriptors 0 to 2, no such name, a name
 * several sockets share, or several sockets for `sd:`.
 */
export function descriptorOf(address: InheritedAddress, activation: Activation = currentActivation()): number {
  if (address.kind === 'fd') {
    if (address.descriptor < LISTEN_FDS_START) {
      throw new UsageError(
        `${address.text}: descriptors 0, 1 and 2 are usock's standard input, output and error`,
        'pass the socket on descriptor 3 or above',
      );
    }
    return address.descriptor;
  }
  const passed = activationSockets(address.text, activation);
  const names = passed.map((p) => p.name).join(', ');
  if (address.name === null) {
    if (passed.length > 1)
      throw new UsageError(`${address.text}: ${passed.length} sockets were passed (named ${names}): name one`, 'give sd:NAME, or fd:N');
    return passed[0]!.fd;
  }
  const found = passed.filter((p) => p.name === address.name);
  if (found.length === 0) throw new UsageError(`${address.text}: no socket named ${address.name} was passed (named ${names})`);
  if (found.length > 1) {
    throw new UsageError(
      `${address.text}: ${found.length} sockets are named ${address.name} (descriptors ${found.map((f) => f.fd).join(', ')})`,
      'give fd:N for one of them',
    );
  }
  return found[0]!.fd;
}

/**
 * Returns the socket address names, checked for role: an AF_UNIX socket (SO_DOMAIN) of a known type
 * (SO_TYPE), `wanted` when given, and listening (SO_ACCEPTCONN; dgram: bound) to serve, or connected for
 * connect. Changes nothing. Throws UsageError (64, one line) for every mismatch, SysError otherwise.
 */
export function inspectInherited(
  address: InheritedAddress,
  role: InheritedRole,
  wanted?: SocketType,
  activation: Activation = currentActivation(),
): InheritedSocket {
  const fd = descriptorOf(address, activation);
  const where = `${address.text}: descriptor ${fd}`;
  let family: number;
  try {
    family = socketDomain(fd);
  } catch (err) {
    if (hasCode(err, 'EBADF'))
      throw new UsageError(
        `${where} is not open`,
        address.kind === 'fd' ? 'usock did not inherit it: open it in the process that starts usock' : undefined,
      );
    if (hasCode(err, 'ENOTSOCK')) throw new UsageError(`${where} is not a socket (${describeFile(fd)})`);
    throw err;
  }
  if (family !== AF_UNIX) throw new UsageError(`${where} is not a Unix socket (${FAMILIES[family] ?? `address family ${family}`})`);
  const type = socketTypeName(socketTypeNumber(fd));
  if (type === 'unknown') throw new UsageError(`${where} is a Unix socket of a type usock does not serve`);
  if (wanted !== undefined && wanted !== type) {
    throw new UsageError(`${where} is a ${type} socket: -t ${wanted} does not match`, "leave -t out: usock takes the socket's own type");
  }
  const name = getsockname(fd);
  if (role === 'serve') {
    if (type !== 'dgram' && !isListening(fd)) {
      throw new UsageError(
        `${where} is a ${type} socket that does not listen`,
        "pass a socket after listen(2), as systemd's ListenStream= does",
      );
    }
    if (type === 'dgram' && name === '') throw new UsageError(`${where} is a dgram socket that is not bound: nobody can send to it`);
  } else {
    if (type !== 'dgram' && isListening(fd))
      throw new UsageError(`${where} is a listening ${type} socket: connect needs a connected one`, 'serve it with usock listen');
    try {
      getpeername(fd);
    } catch (err) {
      if (hasCode(err, 'ENOTCONN')) throw new UsageError(`${where} is a ${type} socket that is not connected`);
      throw err;
    }
  }
  return { fd, type, name };
}

/** Returns what the file on fd is, for a message (`FIFO`, `regular file`, else what /proc shows: `anon_inode:[eventfd]`). Never throws. */
function describeFile(fd: number): string {
  try {
    const kind = kindOf(fstatSync(fd).mode);
    return kind === 'another kind of file' ? readlinkSync(`/proc/self/fd/${fd}`) : kind;
  } catch {
    return 'unknown';
  }
}

/**
 * Returns the inherited socket address names, checked as inspectInherited does for type and role, made
 * non-blocking and close-on-exec, so that it reaches no command usock runs. (The other sockets of
 * LISTEN_FDS, from 3 on without a gap, Node makes close-on-exec at start-up, as it does every inherited
 * descriptor up to the first closed one above 15.) Throws UsageError (64), SysError.
 */
export function adoptInherited(
  address: InheritedAddress,
  type: SocketType,
  role: InheritedRole,
  activation: Activation = currentActivation(),
): InheritedSocket {
  const socket = inspectInherited(address, role, type, activation);
  makeNonBlockingCloexec(socket.fd);
  return socket;
}

/**
 * Returns the server socket address names (as adoptInherited checks and adopts it), as a BoundSocket
 * whose close() closes the descriptor and never removes a file: usock did not create it. The caller
 * owns the result.
 */
export function adoptServerSocket(
  address: InheritedAddress,
  type: SocketType,
  activation: Activation = currentActivation(),
): BoundSocket & { name: string } {
  const { fd, name } = adoptInherited(address, type, 'serve', activation);
  let closed = false;
  let ownsFd = true;
  return {
    fd,
    address,
    name,
    close() {
      if (closed) return;
      closed = true;
      if (ownsFd) close(fd);
    },
    giveAwayDescriptor() {
      ownsFd = false;
    },
  };
}
