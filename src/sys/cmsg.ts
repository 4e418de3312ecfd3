// Control-message (ancillary data) buffers, 64-bit Linux layout: SCM_RIGHTS encoding, SCM_RIGHTS and SCM_CREDENTIALS parsing.
import { CMSG_ALIGN, CMSGHDR_SIZE, SCM_CREDENTIALS, SCM_MAX_FD, SCM_RIGHTS, SOL_SOCKET, UCRED_SIZE } from './platform/linux';

/** Credentials carried by SCM_CREDENTIALS (struct ucred). */
export interface ControlCred {
  pid: number;
  uid: number;
  gid: number;
}

/** What a control buffer holds: the descriptors of every SCM_RIGHTS message in order, and the credentials, if any. */
export interface ParsedControl {
  fds: number[];
  cred: ControlCred | null;
}

/** Returns n rounded up to the cmsghdr alignment (CMSG_ALIGN). */
export function cmsgAlign(n: number): number {
  return (n + CMSG_ALIGN - 1) & ~(CMSG_ALIGN - 1);
}

/** Returns CMSG_LEN(dataLength): the cmsg_len of a message with that much data. */
export function cmsgLen(dataLength: number): number {
  return CMSGHDR_SIZE + dataLength;
}

/** Returns CMSG_SPACE(dataLength): the bytes a message with that much data takes in a control buffer, padding included. */
export function cmsgSpace(dataLength: number): number {
  return CMSGHDR_SIZE + cmsgAlign(dataLength);
}

/** Returns the size of a control buffer with room for maxFds descriptors (when > 0) and, with withCred, one struct ucred. */
export function controlSpace(maxFds: number, withCred = true): number {
  return (maxFds > 0 ? cmsgSpace(4 * maxFds) : 0) + (withCred ? cmsgSpace(UCRED_SIZE) : 0);
}

/** Returns a control buffer with one SCM_RIGHTS message carrying fds (empty buffer for no fds). Throws RangeError beyond SCM_MAX_FD or for a bad fd number. */
export function encodeRights(fds: readonly number[]): Buffer {
  if (fds.length === 0) return Buffer.alloc(0);
  if (fds.length > SCM_MAX_FD) throw new RangeError(`too many descriptors for one message (${fds.length}, max ${SCM_MAX_FD})`);
  const buf = Buffer.alloc(cmsgSpace(4 * fds.length));
  buf.writeBigUInt64LE(BigInt(cmsgLen(4 * fds.length)), 0);
  buf.writeInt32LE(SOL_SOCKET, 8);
  buf.writeInt32LE(SCM_RIGHTS, 12);
  fds.forEach((fd, i) => {
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new RangeError(`bad descriptor number ${fd}`);
    buf.writeInt32LE(fd, CMSGHDR_SIZE + 4 * i);
  });
  return buf;
}

/**
 * Returns the descriptors and credentials in the first `length` bytes of a control buffer (msg_controllen
 * after recvmsg). Walks cmsghdrs as CMSG_NXTHDR does; a header whose length runs past the end stops the walk,
 * but the whole descriptors it holds are still returned so that the caller can close them.
 */
export function parseControl(buf: Buffer, length = buf.length): ParsedControl {
  const end = Math.min(length, buf.length);
  const out: ParsedControl = { fds: [], cred: null };
  let off = 0;
  while (off + CMSGHDR_SIZE <= end) {
    const len = Number(buf.readBigUInt64LE(off));
    if (len < CMSGHDR_SIZE) break;
    const level = buf.readInt32LE(off + 8);
    const type = buf.readInt32LE(off + 12);
    const dataEnd = Math.min(off + len, end);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let p = off + CMSGHDR_SIZE; p + 4 <= dataEnd; p += 4) out.fds.push(buf.readInt32LE(p));
    } else if (level === SOL_SOCKET && type === SCM_CREDENTIALS && dataEnd - (off + CMSGHDR_SIZE) >= UCRED_SIZE) {
      const d = off + CMSGHDR_SIZE;
      out.cred = { pid: buf.readInt32LE(d), uid: buf.readUInt32LE(d + 4), gid: buf.readUInt32LE(d + 8) };
    }
    if (off + len > end) break;
    off += cmsgAlign(len);
  }
  return out;
}
