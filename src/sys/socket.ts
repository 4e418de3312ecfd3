// One synchronous libc call per function: sockets, descriptors and I/O; each throws SysError on failure.
import { errno, lib } from './libc';
import { SysError } from './errors';
import * as L from './platform/linux';
import { decodeAddress, type AddressText } from './sockaddr';

/** Returned by the non-blocking calls instead of throwing when the call would block (EAGAIN): a value of its own type, never a count. */
export const WOULD_BLOCK: unique symbol = Symbol.for('usock.would-block'); // one value even where a module is loaded twice (tsx: ESM and CJS)
export type WouldBlock = typeof WOULD_BLOCK;
const EAGAIN = 11;
const EINTR = 4;
const EINPROGRESS = 115;

export type SocketType = 'stream' | 'dgram' | 'seqpacket';
export const SOCKET_TYPES: Record<SocketType, number> = {
  stream: L.SOCK_STREAM,
  dgram: L.SOCK_DGRAM,
  seqpacket: L.SOCK_SEQPACKET,
};

/** Returns what call returned, or WOULD_BLOCK when it failed with EAGAIN; retries on EINTR; throws SysError naming syscall otherwise. */
function nonBlocking(syscall: string, call: () => number): number | WouldBlock {
  for (;;) {
    const n = call();
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SysError(syscall, e);
  }
}

function fail(syscall: string, path?: string): never {
  throw new SysError(syscall, errno(), path);
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
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SysError('accept', e);
  }
}

/** Connects fd; returns 0, or WOULD_BLOCK when the listener's backlog is full (retry when writable). Throws SysError naming `label`. */
export function connect(fd: number, addr: Buffer, label?: string): 0 | WouldBlock {
  if (lib().connect(fd, addr, addr.length) === 0) return 0;
  const e = errno();
  if (e === EAGAIN || e === EINPROGRESS) return WOULD_BLOCK;
  throw new SysError('connect', e, label);
}

/** Shuts down one or both directions. Throws SysError. */
export function shutdown(fd: number, how: number): void {
  if (lib().shutdown(fd, how) < 0) fail('shutdown');
}

/** Closes fd, ignoring EINTR as Linux does. Throws SysError on EBADF. */
export function close(fd: number): void {
  if (lib().close(fd) < 0 && errno() !== EINTR) fail('close');
}

/** Closes fd and ignores every error: for clean-up paths. */
export function closeQuietly(fd: number): void {
  if (fd >= 0) lib().close(fd);
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

/** Returns bytes read (0 at end of file) or WOULD_BLOCK. Throws SysError. */
export function read(fd: number, buf: Buffer): number | WouldBlock {
  return nonBlocking('read', () => lib().read(fd, buf, buf.length));
}

/** Returns bytes written or WOULD_BLOCK. Throws SysError (EPIPE included). */
export function write(fd: number, buf: Buffer): number | WouldBlock {
  return nonBlocking('write', () => lib().write(fd, buf, buf.length));
}

/** The most buffers writeGather passes in one writev(2) (IOV_MAX is 1024). */
export const GATHER_MAX = 64;
const gatherIov = Buffer.alloc(GATHER_MAX * 16);

/**
 * Writes bufs (at most GATHER_MAX, none empty) in one writev(2). Returns the bytes written (possibly
 * fewer than all), or WOULD_BLOCK. Throws SysError.
 */
export function writeGather(fd: number, bufs: readonly Buffer[]): number | WouldBlock {
  const { koffi } = lib();
  for (let i = 0; i < bufs.length; i++) {
    gatherIov.writeBigUInt64LE(koffi.address(bufs[i]) as unknown as bigint, i * 16);
    gatherIov.writeBigUInt64LE(BigInt(bufs[i]!.length), i * 16 + 8);
  }
  return nonBlocking('writev', () => lib().writev(fd, gatherIov, bufs.length)); // bufs stay referenced, so alive, across the call
}

/** Returns a new descriptor for path. Throws SysError naming the path. */
export function open(path: string, flags: number, mode = 0o666): number {
  const fd = lib().open(path, flags | L.O_CLOEXEC, mode);
  if (fd < 0) fail('open', path);
  return fd;
}

/** Returns fcntl's result for an integer command. Throws SysError. */
export function fcntl(fd: number, cmd: number, arg = 0): number {
  const r = lib().fcntl(fd, cmd, arg);
  if (r < 0) fail('fcntl');
  return r;
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

export interface Ucred { pid: number; uid: number; gid: number }

/** Returns the peer's credentials at connect time (SO_PEERCRED). Throws SysError. */
export function peerCredentials(fd: number): Ucred {
  const b = getsockoptBytes(fd, L.SOL_SOCKET, L.SO_PEERCRED, L.UCRED_SIZE);
  return { pid: b.readInt32LE(0), uid: b.readUInt32LE(4), gid: b.readUInt32LE(8) };
}

/** Calls poll(2) on one pollfd, again when a signal interrupts it (EINTR). Throws SysError. */
function pollRetrying(pfd: Buffer, timeoutMs: number): void {
  while (lib().poll(pfd, 1, timeoutMs) < 0) {
    if (errno() !== EINTR) fail('poll');
  }
}

/** Returns the revents of a zero-timeout poll(2) on fd for `events`; retries when a signal (EINTR) interrupts it. Throws SysError. */
export function pollNow(fd: number, events: number): number {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(events, 4);
  pollRetrying(pfd, 0);
  return pfd.readInt16LE(6);
}

/** Waits up to timeoutMs (blocking) for `events` on fd; returns the revents (0 on time-out). For bounded waits outside the event loop only. Throws SysError. */
export function pollWait(fd: number, events: number, timeoutMs: number): number {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(events, 4);
  pollRetrying(pfd, Math.max(0, Math.ceil(timeoutMs)));
  return pfd.readInt16LE(6);
}

/** True when fd is a terminal (isatty(3)); Node's tty module would load its stream machinery to say the same. Never throws. */
export function isTerminal(fd: number): boolean {
  return lib().isatty(fd) === 1;
}

/** Returns the width in columns of the terminal on fd (TIOCGWINSZ), or 0 when fd is not a terminal. Never throws. */
export function columns(fd: number): number {
  const TIOCGWINSZ = 0x5413;
  const ws = Buffer.alloc(8);
  return lib().ioctlBuffer(fd, TIOCGWINSZ, ws) < 0 ? 0 : ws.readUInt16LE(2);
}

/** Returns the byte count of the next queued message (SIOCINQ/FIONREAD). Throws SysError. */
export function bytesQueued(fd: number): number {
  const FIONREAD = 0x541b;
  const out = new Int32Array(1);
  if (lib().ioctl(fd, FIONREAD, out) < 0) fail('ioctl');
  return out[0]!;
}

/** Drops this process to uid, gid and the user's groups for good (initgroups, setgid, setuid). Throws SysError. */
export function becomeUser(user: string, uid: number, gid: number): void {
  const c = lib();
  if (c.initgroups(user, gid) < 0) fail('initgroups', user);
  if (c.setgid(gid) < 0) fail('setgid');
  if (c.setuid(uid) < 0) fail('setuid');
}

/**
 * True when a zero-length recv on a seqpacket socket meant end of stream rather than an empty message:
 * the peer has shut down and nothing more is queued. (An empty message that is the very last one before
 * the peer's shutdown cannot be told apart from the end.) Throws SysError.
 */
export function seqpacketEnded(fd: number): boolean {
  return (pollNow(fd, L.POLLRDHUP) & (L.POLLRDHUP | L.POLLHUP)) !== 0 && bytesQueued(fd) === 0;
}
