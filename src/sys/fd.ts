// One synchronous libc call per function on any descriptor: open, close, read, write, fcntl, poll; each throws SysError on failure.
import { errno, lib } from './libc';
import { SysError } from './errors';
import { EAGAIN, EINTR, IOVEC_SIZE, O_CLOEXEC } from './platform/linux';

/** Returned by the non-blocking calls instead of throwing when the call would block (EAGAIN): a value of its own type, never a count. */
export const WOULD_BLOCK: unique symbol = Symbol.for('usock.would-block'); // one value even where a module is loaded twice (tsx: ESM and CJS)
export type WouldBlock = typeof WOULD_BLOCK;

/** For sys/ modules: returns what call returned, or WOULD_BLOCK when it failed with EAGAIN; retries on EINTR; throws SysError naming syscall otherwise. */
export function nonBlocking(syscall: string, call: () => number): number | WouldBlock {
  for (;;) {
    const n = call();
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SysError(syscall, e);
  }
}

/** For sys/ modules: throws the SysError of the errno the last libc call left. */
export function fail(syscall: string, path?: string): never {
  throw new SysError(syscall, errno(), path);
}

/** Returns a new close-on-exec descriptor for path (open(2)). Throws SysError naming the path. */
export function open(path: string, flags: number, mode = 0o666): number {
  const fd = lib().open(path, flags | O_CLOEXEC, mode);
  if (fd < 0) fail('open', path);
  return fd;
}

/** Closes fd, ignoring EINTR as Linux does. Throws SysError on EBADF. */
export function close(fd: number): void {
  if (lib().close(fd) < 0 && errno() !== EINTR) fail('close');
}

/** Closes fd and ignores every error: for clean-up paths. */
export function closeQuietly(fd: number): void {
  if (fd >= 0) lib().close(fd);
}

/** Returns fcntl's result for an integer command. Throws SysError. */
export function fcntl(fd: number, cmd: number, arg = 0): number {
  const r = lib().fcntl(fd, cmd, arg);
  if (r < 0) fail('fcntl');
  return r;
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
const gatherIov = Buffer.alloc(GATHER_MAX * IOVEC_SIZE);

/**
 * Writes bufs (at most GATHER_MAX, none empty) in one writev(2). Returns the bytes written (possibly
 * fewer than all), or WOULD_BLOCK. Throws SysError.
 */
export function writeGather(fd: number, bufs: readonly Buffer[]): number | WouldBlock {
  const { koffi } = lib();
  for (let i = 0; i < bufs.length; i++) {
    gatherIov.writeBigUInt64LE(koffi.address(bufs[i]), i * IOVEC_SIZE);
    gatherIov.writeBigUInt64LE(BigInt(bufs[i]!.length), i * IOVEC_SIZE + 8);
  }
  return nonBlocking('writev', () => lib().writev(fd, gatherIov, bufs.length)); // bufs stay referenced, so alive, across the call
}

/** Calls poll(2) on one pollfd, again when a signal interrupts it (EINTR). Throws SysError. */
function pollRetrying(pfd: Buffer, timeoutMs: number): void {
  while (lib().poll(pfd, 1, timeoutMs) < 0) {
    if (errno() !== EINTR) fail('poll');
  }
}

/** Returns the revents of a zero-timeout poll(2) on fd for `events`; retries when a signal (EINTR) interrupts it. Throws SysError. */
export function pollNow(fd: number, events: number): number {
  return pollWait(fd, events, 0);
}

/** Waits up to timeoutMs (blocking) for `events` on fd; returns the revents (0 on time-out). For bounded waits outside the event loop only. Throws SysError. */
export function pollWait(fd: number, events: number, timeoutMs: number): number {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(events, 4);
  pollRetrying(pfd, Math.max(0, Math.ceil(timeoutMs)));
  return pfd.readInt16LE(6);
}
