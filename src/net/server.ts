// Accepting connections and datagrams on a bound socket: every peer's credentials checked against the access rules before any of its data is used.
import { admits, type AccessRules } from '../access';
import type { Reporter } from '../output';
import { describePeer } from '../output';
import { receiveMessage } from '../sys/msg';
import { FdWatcher } from '../sys/poll';
import { SOL_SOCKET, SO_PASSCRED, SO_PEERGROUPS, SO_PEERSEC } from '../sys/platform/linux';
import { encodeAbstractAddress, encodePathAddress } from '../sys/sockaddr';
import { accept, closeQuietly, getsockoptBytes, peerCredentials, setsockoptInt, WOULD_BLOCK, type Ucred } from '../sys/socket';

/** Returns the peer's supplementary groups (SO_PEERGROUPS), or undefined where the kernel does not tell. */
export function peerGroups(fd: number): number[] | undefined {
  try {
    const b = getsockoptBytes(fd, SOL_SOCKET, SO_PEERGROUPS, 4 * 1024);
    const out: number[] = [];
    for (let i = 0; i + 4 <= b.length; i += 4) out.push(b.readUInt32LE(i));
    return out;
  } catch {
    return undefined;
  }
}

/** Returns the peer's security label (SO_PEERSEC, e.g. an SELinux context or AppArmor profile), or null where no LSM gives one. */
export function peerLabel(fd: number): string | null {
  try {
    const b = getsockoptBytes(fd, SOL_SOCKET, SO_PEERSEC, 4096);
    const text = b.toString('utf8').replace(/\0+$/, '');
    return text === '' ? null : text;
  } catch {
    return null;
  }
}

export interface AcceptOptions {
  rules: AccessRules | null;
  reporter: Reporter;
  /** Gets each admitted connection (non-blocking, close-on-exec); it owns fd from then on. */
  onPeer: (fd: number, cred: Ucred | null) => void;
}

/** Accepts on listenFd until stopped; returns stop(), which stops accepting (the caller still owns listenFd). */
export function acceptLoop(listenFd: number, opts: AcceptOptions): { stop(): void } {
  const watcher = new FdWatcher(listenFd);
  let stopped = false;
  watcher.onReadable(() => {
    for (let i = 0; i < 64 && !stopped; i++) {
      let fd: number;
      try {
        fd = accept(listenFd);
      } catch (err) {
        opts.reporter.warn('accept-failed', `accept: ${(err as Error).message}`);
        return;
      }
      if (fd === WOULD_BLOCK) return;
      let cred: Ucred | null = null;
      try {
        cred = peerCredentials(fd);
      } catch {
        // the peer is already gone
      }
      if (opts.rules && !(cred && admits(opts.rules, { ...cred, groups: peerGroups(fd) }))) {
        opts.reporter.warn('rejected', `rejected ${describePeer(cred)}: no --allow rule matches`, { peer: cred });
        closeQuietly(fd);
        continue;
      }
      opts.reporter.info('accepted', `connection from ${describePeer(cred)}`, { peer: cred });
      opts.onPeer(fd, cred);
    }
  });
  return {
    stop() {
      stopped = true;
      watcher.close();
    },
  };
}

/** Asks the kernel to attach the sender's credentials (SCM_CREDENTIALS) to every datagram fd receives (SO_PASSCRED). Throws SysError. */
export function passCredentials(fd: number): void {
  setsockoptInt(fd, SOL_SOCKET, SO_PASSCRED, 1);
}

/**
 * True when a datagram whose SCM_CREDENTIALS are cred may be read: no rules, or a sender the rules admit.
 * Datagrams carry no supplementary groups, so rules match the uid and primary gid only. A datagram
 * without credentials (pid 0: queued before SO_PASSCRED was set) never passes rules. A rejected
 * sender is reported on stderr.
 */
export function admitSender(rules: AccessRules | null, cred: Ucred | null, reporter: Reporter): boolean {
  if (!rules) return true;
  const known = cred !== null && cred.pid > 0;
  if (known && admits(rules, { uid: cred.uid, gid: cred.gid })) return true;
  reporter.warn('rejected', `rejected datagram from ${known ? describePeer(cred) : 'a sender without credentials'}: no --allow rule matches`, { peer: known ? cred : null });
  return false;
}

/** The sockaddr for a sender address as receiveMessage gives it ('' unnamed, '@name', or a path); null when there is none. */
function senderAddress(text: string): Buffer | null {
  if (text === '') return null;
  try {
    return text.startsWith('@') ? encodeAbstractAddress(text.slice(1)) : encodePathAddress(text);
  } catch {
    return null;
  }
}

/**
 * Receives one datagram from fd (which needs passCredentials) with its SCM_CREDENTIALS: at most buf.length
 * bytes of it into buf, the sender's sockaddr into from with its length in fromLen[0] (0: unnamed).
 * Returns its real length (MSG_TRUNC) and credentials when the rules admit the sender; null when they do
 * not (the datagram is dropped and reported on stderr, see admitSender); or WOULD_BLOCK. Descriptors a
 * datagram carries are discarded by the kernel (no room for them). Throws SysError.
 */
export function receiveChecked(fd: number, buf: Buffer, from: Buffer, fromLen: Uint32Array, rules: AccessRules | null, reporter: Reporter):
  { length: number; cred: Ucred | null } | null | typeof WOULD_BLOCK {
  const msg = receiveMessage(fd, buf.length, 0, 0);
  if (msg === WOULD_BLOCK) return WOULD_BLOCK;
  if (!admitSender(rules, msg.cred, reporter)) return null;
  msg.data.copy(buf);
  const sender = senderAddress(msg.from);
  fromLen[0] = sender ? sender.copy(from) : 0;
  return { length: msg.length, cred: msg.cred };
}
