// sendmsg/recvmsg with ancillary data: descriptors (SCM_RIGHTS) out and in, credentials (SCM_CREDENTIALS) in.
import { SysError } from './errors';
import { controlSpace, encodeRights, parseControl } from './cmsg';
import { lib } from './libc';
import {
  EINVAL,
  IOVEC_SIZE,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  MSG_TRUNC,
  MSGHDR_SIZE,
  SA_FAMILY_SIZE,
  SCM_MAX_FD,
  SOCKADDR_UN_SIZE,
} from './platform/linux';
import { decodeAddress } from './sockaddr';
import { closeQuietly, WOULD_BLOCK } from './fd';
import { recvmsg, sendmsg, type Ucred } from './socket';

/** One message recvmsg returned. The caller owns every descriptor in fds. */
export interface ReceivedMessage {
  /** The real length of the message (MSG_TRUNC), which may exceed data.length. */
  length: number;
  /** A copy of the data, at most maxData bytes. */
  data: Buffer;
  /** The received descriptors (close-on-exec), at most maxFds of them, in the sender's order. */
  fds: number[];
  /** SCM_CREDENTIALS, when the socket has SO_PASSCRED. */
  cred: Ucred | null;
  /** True when the data did not fit maxData. */
  truncated: boolean;
  /** True when the kernel truncated the control data (MSG_CTRUNC): descriptors that did not fit were lost (the kernel closed them). */
  controlTruncated: boolean;
  /** Descriptors beyond maxFds that arrived and were closed at once. */
  extraClosed: number;
  /** The sender's address as text; '' when unnamed or connected. */
  from: string;
  /** The sender's sockaddr_un, to reply to with sendWithDescriptors; null when unnamed. */
  fromAddress: Buffer | null;
}

function address(buf: Buffer): bigint {
  return buf.length === 0 ? 0n : (lib().koffi.address(buf) as unknown as bigint);
}

/** Returns a struct msghdr (x86_64 layout) pointing at name, one iovec and control; the caller keeps all four Buffers alive across the call. */
function buildMsghdr(name: Buffer, iov: Buffer, control: Buffer): Buffer {
  const h = Buffer.alloc(MSGHDR_SIZE);
  h.writeBigUInt64LE(address(name), 0);
  h.writeUInt32LE(name.length, 8);
  h.writeBigUInt64LE(address(iov), 16);
  h.writeBigUInt64LE(1n, 24);
  h.writeBigUInt64LE(address(control), 32);
  h.writeBigUInt64LE(BigInt(control.length), 40);
  return h;
}

/** Returns a struct iovec for `length` bytes of data (data may be longer: a zero-length read still needs a valid base). */
function buildIovec(data: Buffer, length: number): Buffer {
  const iov = Buffer.alloc(IOVEC_SIZE);
  iov.writeBigUInt64LE(address(data), 0);
  iov.writeBigUInt64LE(BigInt(length), 8);
  return iov;
}

/**
 * Receives one message without blocking, with MSG_CMSG_CLOEXEC and MSG_TRUNC: up to maxData bytes of
 * data, the descriptors and the credentials. The control buffer has room for max(maxFds, controlRoom)
 * descriptors plus a ucred (controlRoom defaults to SCM_MAX_FD, so the kernel never drops descriptors);
 * descriptors beyond maxFds are closed at once and counted in extraClosed. Returns WOULD_BLOCK when
 * nothing is queued. Throws SysError (nothing is left open then).
 */
export function receiveMessage(
  fd: number,
  maxData: number,
  maxFds: number,
  controlRoom: number = SCM_MAX_FD,
): ReceivedMessage | typeof WOULD_BLOCK {
  const data = Buffer.alloc(Math.max(maxData, 1));
  const name = Buffer.alloc(SOCKADDR_UN_SIZE);
  const control = Buffer.alloc(controlSpace(Math.max(maxFds, controlRoom, 0)));
  const iov = buildIovec(data, maxData);
  const hdr = buildMsghdr(name, iov, control);
  const n = recvmsg(fd, hdr, MSG_CMSG_CLOEXEC | MSG_TRUNC);
  if (n === WOULD_BLOCK) return WOULD_BLOCK;
  const flags = hdr.readInt32LE(48);
  const parsed = parseControl(control, Number(hdr.readBigUInt64LE(40)));
  const keep = parsed.fds.slice(0, Math.max(maxFds, 0));
  const extra = parsed.fds.slice(keep.length);
  for (const x of extra) closeQuietly(x);
  const copied = Math.min(n, maxData);
  const nameLength = Math.min(hdr.readUInt32LE(8), name.length);
  return {
    length: n,
    data: Buffer.from(data.subarray(0, copied)),
    fds: keep,
    cred: parsed.cred,
    truncated: n > maxData || (flags & MSG_TRUNC) !== 0,
    controlTruncated: (flags & MSG_CTRUNC) !== 0,
    extraClosed: extra.length,
    from: decodeAddress(name, nameLength),
    fromAddress: nameLength > SA_FAMILY_SIZE ? Buffer.from(name.subarray(0, nameLength)) : null,
  };
}

/** The descriptors of a receive that brought none: shared, never written to. */
const NO_FDS: readonly number[] = Object.freeze([]);

/**
 * A recvmsg(2) set up once over a data buffer: its msghdr, iovec and control buffer (room for maxFds
 * descriptors, SCM_MAX_FD by default, so that the kernel never closes one for lack of room) are
 * allocated here and reused, so that each receive is one libc call, as cheap as recv(2). Received
 * descriptors are close-on-exec (MSG_CMSG_CLOEXEC). Not for SCM_CREDENTIALS (no room is kept for them).
 */
export class MessageReader {
  private readonly control: Buffer;
  private readonly iov: Buffer;
  private readonly hdr: Buffer;
  /** The descriptors the last receive brought, in the sender's order: the caller owns them (empty, and shared, when none). */
  fds: readonly number[] = NO_FDS;
  /** True when the last receive's control data was truncated (MSG_CTRUNC): descriptors were lost, closed by the kernel (no room, or RLIMIT_NOFILE). */
  controlTruncated = false;

  /** data: where each receive puts its bytes (the whole buffer is offered). */
  constructor(
    readonly data: Buffer,
    maxFds: number = SCM_MAX_FD,
  ) {
    this.control = Buffer.alloc(controlSpace(Math.max(maxFds, 1), false));
    this.iov = buildIovec(data, data.length);
    this.hdr = buildMsghdr(Buffer.alloc(0), this.iov, this.control);
  }

  /**
   * Receives once without blocking into data, with `flags` (e.g. MSG_TRUNC) and MSG_CMSG_CLOEXEC.
   * Returns the byte count (the real length of the message with MSG_TRUNC on a message socket) or
   * WOULD_BLOCK; sets fds and controlTruncated (cleared when nothing came). Throws SysError (no descriptor received then).
   */
  receive(fd: number, flags = 0): number | typeof WOULD_BLOCK {
    this.fds = NO_FDS;
    this.controlTruncated = false;
    this.hdr.writeUInt32LE(this.control.length, 40); // msg_controllen (its high half stays 0): the kernel wrote the last length there
    const n = recvmsg(fd, this.hdr, flags | MSG_CMSG_CLOEXEC);
    if (n === WOULD_BLOCK) return WOULD_BLOCK;
    const controlLength = this.hdr.readUInt32LE(40);
    if (controlLength > 0) this.fds = parseControl(this.control, controlLength).fds;
    this.controlTruncated = (this.hdr.readInt32LE(48) & MSG_CTRUNC) !== 0;
    return n;
  }
}

/**
 * Sends data with fds attached (one SCM_RIGHTS message) without blocking, to `to` (a sockaddr) when given.
 * Returns the bytes sent, or WOULD_BLOCK. The descriptors stay open in this process. Throws SysError
 * (EINVAL beyond SCM_MAX_FD, EBADF for a closed fd, ETOOMANYREFS past the kernel's in-flight limit).
 */
export function sendWithDescriptors(fd: number, data: Buffer, fds: readonly number[], to?: Buffer): number | typeof WOULD_BLOCK {
  if (fds.length > SCM_MAX_FD) throw new SysError('sendmsg', EINVAL);
  const payload = data.length ? data : Buffer.alloc(1);
  const name = to ?? Buffer.alloc(0);
  const control = encodeRights(fds);
  const iov = buildIovec(payload, data.length);
  const hdr = buildMsghdr(name, iov, control);
  return sendmsg(fd, hdr);
}
