// One synchronous libc call per function on sockets: create, bind, listen, accept, connect, send, receive, options, names; each throws SysError on failure.
import { errno, lib } from './libc';
import { SysError } from './errors';
import { fail, nonBlocking, pollNow, WOULD_BLOCK, type WouldBlock } from './fd';
import * as L from './platform/linux';
import { decodeAddress, type AddressText } from './sockaddr';

export type SocketType = 'stream' | 'dgram' | 'seqpacket';
export const SOCKET_TYPES: Record<SocketType, number> = {
  stream: L.SOCK_STREAM,
  dgram: L.SOCK_DGRAM,
  seqpacket: L.SOCK_SEQPACKET,
};

/** Returns the name of a kernel socket type number (SOCK_STREAM...), or 'unknown' for a type usock does not handle. */
export function socketTypeName(type: number): SocketType | 'unknown' {
  return (Object.keys(SOCKET_TYPES) as SocketType[]).find((name) => SOCKET_TYPES[name] === type) ?? 'unknown';
}

/** Returns a new AF_UNIX socket, non-blocking and close-on-exec. Throws SysError. */
export function socket(type: SocketType): number {
  const fd = lib().socket(L.AF_UNIX, SOCKET_TYPES[type] | L.SOCK_NONBLOCK | L.SOCK_CLOEXEC, 0);
  if (fd < 0) fail('socket');
  return fd;
}

/** Returns a new AF_NETLINK datagram socket for `protocol` (e.g. NETLINK_SOCK_DIAG), non-blocking and close-on-exec. Throws SysError. */
export function netlinkSocket(protocol: number): number {
  const fd = lib().socket(L.AF_NETLINK, L.SOCK_DGRAM | L.SOCK_NONBLOCK | L.SOCK_CLOEXEC, protocol);
  if (fd < 0) fail('socket(AF_NETLINK)');
  return fd;
}

/** Returns two connected sockets; `nonblock` and `cloexec` choose their flags. Throws SysError. */
export function socketpair(type: SocketType, flags: { nonblock?: boolean; cloexec?: boolean } = {}): [number, number] {
  const sv = new Int32Array(2);
  const extra = (flags.nonblock === false ? 0 : L.SOCK_NONBLOCK) | (flags.cloexec === false ? 0 : L.SOCK_CLOEXEC);
  if (lib().socketpair(L.AF_UNIX, SOCKET_TYPES[type] | extra, 0, sv) < 0) fail('socketpair');
  return [sv[0]!, sv[1]!];
}

/** Binds fd to the encoded address. Throws SysError naming `label`. */
export function bind(fd: number, addr: Buffer, label?: string): void {
  if (lib().bind(fd, addr, addr.length) < 0) fail('bind', label);
}

/** Marks fd as accepting connections. Throws SysError. */
export function listen(fd: number, backlog = 4096): void {
  if (lib().listen(fd, backlog) < 0) fail('listen');
}

/** Returns a new connection (non-blocking, close-on-exec), or WOULD_BLOCK. Throws SysError. */
export function accept(fd: number): number | WouldBlock {
  for (;;) {
    const conn = lib().accept4(fd, null, null, L.SOCK_NONBLOCK | L.SOCK_CLOEXEC);
    if (conn >= 0) return conn;
    const e = errno();
    if (e === L.EAGAIN) return WOULD_BLOCK;
    if (e !== L.EINTR) throw new SysError('accept', e);
  }
}

/** Connects fd; returns 0, or WOULD_BLOCK when the listener's backlog is full (retry when writable). Throws SysError naming `label`. */
export function connect(fd: number, addr: Buffer, label?: string): 0 | WouldBlock {
  if (lib().connect(fd, addr, addr.length) === 0) return 0;
  const e = errno();
  if (e === L.EAGAIN || e === L.EINPROGRESS) return WOULD_BLOCK;
  throw new SysError('connect', e, label);
}

/** Shuts down one or both directions. Throws SysError. */
export function shutdown(fd: number, how: number): void {
  if (lib().shutdown(fd, how) < 0) fail('shutdown');
}

/** Returns bytes sent, or WOULD_BLOCK. Never raises SIGPIPE. Throws SysError. */
export function send(fd: number, buf: Buffer, flags = 0): number | WouldBlock {
  return nonBlocking('send', () => lib().send(fd, buf, buf.length, flags | L.MSG_NOSIGNAL | L.MSG_DONTWAIT));
}

/** Returns bytes sent to addr, or WOULD_BLOCK. Throws SysError. */
export function sendto(fd: number, buf: Buffer, addr: Buffer, flags = 0): number | WouldBlock {
  return nonBlocking('sendto', () => lib().sendto(fd, buf, buf.length, flags | L.MSG_NOSIGNAL | L.MSG_DONTWAIT, addr, addr.length));
}

/** Returns bytes received into buf (with MSG_TRUNC: the message's real length), or WOULD_BLOCK. Throws SysError. */
export function recv(fd: number, buf: Buffer, flags = 0): number | WouldBlock {
  return nonBlocking('recv', () => lib().recv(fd, buf, buf.length, flags | L.MSG_DONTWAIT));
}

/** Returns the length received (the real length with MSG_TRUNC), or WOULD_BLOCK; the sender's address goes to addr and its length to addrLen[0]. Throws SysError. */
export function recvfrom(fd: number, buf: Buffer, flags: number, addr: Buffer, addrLen: Uint32Array): number | WouldBlock {
  return nonBlocking('recvfrom', () => {
    addrLen[0] = addr.length;
    return lib().recvfrom(fd, buf, buf.length, flags | L.MSG_DONTWAIT, addr, addrLen);
  });
}

/** Sends a prepared struct msghdr; returns bytes sent or WOULD_BLOCK. Throws SysError. */
export function sendmsg(fd: number, msghdr: Buffer, flags = 0): number | WouldBlock {
  return nonBlocking('sendmsg', () => lib().sendmsg(fd, msghdr, flags | L.MSG_NOSIGNAL | L.MSG_DONTWAIT));
}

/** Receives into a prepared struct msghdr; returns bytes (real length with MSG_TRUNC) or WOULD_BLOCK. Throws SysError. */
export function recvmsg(fd: number, msghdr: Buffer, flags = 0): number | WouldBlock {
  return nonBlocking('recvmsg', () => lib().recvmsg(fd, msghdr, flags | L.MSG_DONTWAIT));
}

/** Returns an int socket option. Throws SysError. */
export function getsockoptInt(fd: number, level: number, name: number): number {
  const val = new Int32Array(1);
  const len = new Uint32Array([4]);
  if (lib().getsockopt(fd, level, name, val, len) < 0) fail('getsockopt');
  return val[0]!;
}

/** Returns the raw bytes of a socket option (at most `size`). Throws SysError. */
export function getsockoptBytes(fd: number, level: number, name: number, size: number): Buffer {
  const val = Buffer.alloc(size);
  const len = new Uint32Array([size]);
  if (lib().getsockopt(fd, level, name, val, len) < 0) fail('getsockopt');
  return val.subarray(0, len[0]);
}

/** Sets an int socket option. Throws SysError. */
export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  if (lib().setsockopt(fd, level, name, new Int32Array([value]), 4) < 0) fail('setsockopt');
}

/** Returns the socket's own address in text form ('' when unnamed). Throws SysError. */
export function getsockname(fd: number): AddressText {
  const addr = Buffer.alloc(L.SOCKADDR_UN_SIZE);
  const len = new Uint32Array([L.SOCKADDR_UN_SIZE]);
  if (lib().getsockname(fd, addr, len) < 0) fail('getsockname');
  return decodeAddress(addr, len[0]!);
}

/** Returns the peer's address in text form ('' when unnamed). Throws SysError. */
export function getpeername(fd: number): AddressText {
  const addr = Buffer.alloc(L.SOCKADDR_UN_SIZE);
  const len = new Uint32Array([L.SOCKADDR_UN_SIZE]);
  if (lib().getpeername(fd, addr, len) < 0) fail('getpeername');
  return decodeAddress(addr, len[0]!);
}

export interface Ucred {
  pid: number;
  uid: number;
  gid: number;
}

/** Returns the peer's credentials at connect time (SO_PEERCRED). Throws SysError. */
export function peerCredentials(fd: number): Ucred {
  const b = getsockoptBytes(fd, L.SOL_SOCKET, L.SO_PEERCRED, L.UCRED_SIZE);
  return { pid: b.readInt32LE(0), uid: b.readUInt32LE(4), gid: b.readUInt32LE(8) };
}

/** Returns the bytes queued to read (SIOCINQ/FIONREAD, unix(7)): a dgram socket's next datagram, every byte queued on a stream or seqpacket socket. Throws SysError. */
export function bytesQueued(fd: number): number {
  const out = new Int32Array(1);
  if (lib().ioctl(fd, L.FIONREAD, out) < 0) fail('ioctl');
  return out[0]!;
}

/**
 * True when a zero-length recv on a seqpacket socket meant end of stream rather than an empty message:
 * the peer has shut down and nothing more is queued. (An empty message that is the very last one before
 * the peer's shutdown cannot be told apart from the end.) Throws SysError.
 */
export function seqpacketEnded(fd: number): boolean {
  return (pollNow(fd, L.POLLRDHUP) & (L.POLLRDHUP | L.POLLHUP)) !== 0 && bytesQueued(fd) === 0;
}
