// Accepting connections on a bound socket: every peer's credentials checked against the access rules before any of its data is read.
import { admits, type AccessRules } from '../access';
import type { Reporter } from '../output';
import { describePeer } from '../output';
import { FdWatcher } from '../sys/poll';
import { SOL_SOCKET, SO_PEERGROUPS } from '../sys/platform/linux';
import { accept, closeQuietly, getsockoptBytes, peerCredentials, WOULD_BLOCK, type Ucred } from '../sys/socket';

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
