// netlink sock_diag for AF_UNIX (sock_diag(7)): the request and reply encoding (pure), and the dump of every Unix socket with its name and peer.
import { SysError } from '../sys/errors';
import {
  AF_UNIX,
  ETIMEDOUT,
  NETLINK_SOCK_DIAG,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  POLLIN,
  POLLOUT,
  SOCK_DIAG_BY_FAMILY,
  UDIAG_SHOW_NAME,
  UDIAG_SHOW_PEER,
  UNIX_DIAG_MSG_LEN,
  UNIX_DIAG_NAME,
  UNIX_DIAG_PEER,
  UNIX_DIAG_REQ_LEN,
} from '../sys/platform/linux';
import { closeQuietly, pollWait, WOULD_BLOCK } from '../sys/fd';
import { netlinkSocket, recv, send, socketTypeName } from '../sys/socket';

// Host byte order is little-endian on every platform usock runs on (x86-64, arm64).

/** The kernel's socket states (sk_state, as TCP's) as unix_diag_msg gives them. */
const STATES: Record<number, string> = { 1: 'established', 2: 'syn-sent', 7: 'close', 10: 'listen' };

/** One Unix socket as sock_diag describes it. */
export interface UnixDiagEntry {
  inode: number;
  type: 'stream' | 'dgram' | 'seqpacket' | 'unknown';
  /** The kernel's sk_state by name: established, syn-sent, close, listen (else `state N`). */
  state: string;
  /** sun_path's bytes (an abstract name starts with a 0 byte); null when the socket has no name. */
  name: Buffer | null;
  /** The inode of the socket it is connected to; null when it is not connected. */
  peer: number | null;
}

/** Returns the bytes of a SOCK_DIAG_BY_FAMILY dump request for every AF_UNIX socket, with names and peers (nlmsghdr + unix_diag_req). */
export function encodeUnixDiagRequest(seq = 1): Buffer {
  const buf = Buffer.alloc(NLMSG_HDRLEN + UNIX_DIAG_REQ_LEN);
  buf.writeUInt32LE(buf.length, 0); // nlmsg_len
  buf.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4); // nlmsg_type
  buf.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6); // nlmsg_flags
  buf.writeUInt32LE(seq >>> 0, 8); // nlmsg_seq
  buf.writeUInt32LE(0, 12); // nlmsg_pid: the kernel
  const req = NLMSG_HDRLEN;
  buf.writeUInt8(AF_UNIX, req); // sdiag_family
  buf.writeUInt8(0, req + 1); // sdiag_protocol
  buf.writeUInt32LE(0xffffffff, req + 4); // udiag_states: all
  buf.writeUInt32LE(0, req + 8); // udiag_ino: any
  buf.writeUInt32LE(UDIAG_SHOW_NAME | UDIAG_SHOW_PEER, req + 12); // udiag_show
  buf.writeUInt32LE(0xffffffff, req + 16); // udiag_cookie: INET_DIAG_NOCOOKIE
  buf.writeUInt32LE(0xffffffff, req + 20);
  return buf;
}

/** What one datagram of a dump holds: its entries, and whether NLMSG_DONE ended the dump. */
export interface DiagChunk {
  entries: UnixDiagEntry[];
  done: boolean;
}

const align4 = (n: number) => (n + 3) & ~3;

/**
 * Returns the unix_diag_msg entries of one datagram of netlink replies (several nlmsghdr-framed
 * messages), and whether it held NLMSG_DONE. Messages of another sequence number are skipped when
 * `seq` is given. Throws SysError('sock_diag', errno) for NLMSG_ERROR, Error for a malformed message.
 */
export function decodeUnixDiagReplies(buf: Buffer, seq?: number): DiagChunk {
  const entries: UnixDiagEntry[] = [];
  let done = false;
  for (let off = 0; off + NLMSG_HDRLEN <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length)
      throw new Error(`sock_diag: malformed netlink message (length ${len} at offset ${off} of ${buf.length})`);
    const type = buf.readUInt16LE(off + 4);
    const msgSeq = buf.readUInt32LE(off + 8);
    const body = buf.subarray(off + NLMSG_HDRLEN, off + len);
    off += align4(len);
    if (seq !== undefined && msgSeq !== seq >>> 0) continue;
    if (type === NLMSG_DONE) {
      done = true;
      break;
    }
    if (type === NLMSG_ERROR) {
      const err = body.length >= 4 ? -body.readInt32LE(0) : 0;
      if (err === 0) continue; // an acknowledgement
      throw new SysError('sock_diag', err);
    }
    if (type !== SOCK_DIAG_BY_FAMILY) continue;
    const entry = decodeUnixDiagMsg(body);
    if (entry) entries.push(entry);
  }
  return { entries, done };
}

/** Returns the entry a unix_diag_msg and its attributes describe, or null when it is too short to be one. */
function decodeUnixDiagMsg(body: Buffer): UnixDiagEntry | null {
  if (body.length < UNIX_DIAG_MSG_LEN) return null;
  const entry: UnixDiagEntry = {
    inode: body.readUInt32LE(4),
    type: socketTypeName(body.readUInt8(1)),
    state: STATES[body.readUInt8(2)] ?? `state ${body.readUInt8(2)}`,
    name: null,
    peer: null,
  };
  for (let off = UNIX_DIAG_MSG_LEN; off + 4 <= body.length; ) {
    const len = body.readUInt16LE(off);
    const type = body.readUInt16LE(off + 2);
    if (len < 4 || off + len > body.length) break;
    const data = body.subarray(off + 4, off + len);
    if (type === UNIX_DIAG_NAME) entry.name = pathName(data);
    else if (type === UNIX_DIAG_PEER && data.length >= 4) entry.peer = data.readUInt32LE(0) || null;
    off += align4(len);
  }
  return entry;
}

/**
 * Returns sun_path's bytes as the socket's name: the kernel keeps a path with its terminating 0 byte
 * (and a program may bind with a longer length), so a path ends at its first 0 byte; an abstract name
 * (0 byte first) is every byte, 0 bytes included. Null for an empty name.
 */
function pathName(data: Buffer): Buffer | null {
  if (data.length === 0) return null;
  if (data[0] === 0) return Buffer.from(data);
  const end = data.indexOf(0);
  return Buffer.from(end < 0 ? data : data.subarray(0, end));
}

/** How long a dump may wait for the kernel's next reply. */
const REPLY_TIMEOUT_MS = 5000;

/**
 * Returns every AF_UNIX socket of the network namespace as sock_diag dumps it, by inode. Throws
 * SysError where the kernel does not offer it (socket: EPROTONOSUPPORT, EAFNOSUPPORT; EACCES, EPERM
 * under a seccomp or LSM policy) or a reply does not come within 5 s (ETIMEDOUT).
 */
export function dumpUnixDiag(): Map<number, UnixDiagEntry> {
  const fd = netlinkSocket(NETLINK_SOCK_DIAG);
  try {
    const seq = (Date.now() & 0x7fffffff) >>> 0;
    const request = encodeUnixDiagRequest(seq);
    for (;;) {
      if (pollWait(fd, POLLOUT, REPLY_TIMEOUT_MS) === 0) throw new SysError('sock_diag send', ETIMEDOUT);
      if (send(fd, request) !== WOULD_BLOCK) break;
    }
    const found = new Map<number, UnixDiagEntry>();
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = recv(fd, buf);
      if (n === WOULD_BLOCK) {
        if (pollWait(fd, POLLIN, REPLY_TIMEOUT_MS) === 0) throw new SysError('sock_diag recv', ETIMEDOUT);
        continue;
      }
      if (n === 0) return found;
      const chunk = decodeUnixDiagReplies(buf.subarray(0, n), seq);
      for (const e of chunk.entries) found.set(e.inode, e);
      if (chunk.done) return found;
    }
  } finally {
    closeQuietly(fd);
  }
}
