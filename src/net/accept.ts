// The accept loop of a listening socket: each peer checked against the access rules before any of its data is used, a fault in one peer's handler kept to that peer, descriptor exhaustion waited out without spinning.
import { UsockError } from '../errors';
import type { Diagnostics } from '../sys/diagnostics';
import { setLongTimeout } from '../io/timer';
import { describePeer } from '../report/text';
import { FdWatcher } from '../sys/poll';
import { closeQuietly, WOULD_BLOCK } from '../sys/fd';
import { accept, type Ucred } from '../sys/socket';
import { admits, type AccessRules } from './access';
import { credentialsOf, peerGroups } from './credentials';

/** Accepts taken in one turn of the event loop. */
const ACCEPTS_PER_TURN = 64;
/** The first and the longest pause after accept(2) fails (EMFILE, ENFILE, ENOBUFS, ENOMEM...). */
const FIRST_PAUSE_MS = 10;
const LONGEST_PAUSE_MS = 1000;
/** How long a server must have had no connection before it is called idle. */
const IDLE_MS = 1000;

export interface AcceptOptions {
  rules: AccessRules | null;
  /** Connections served at once; beyond it accepting pauses (clients wait in the kernel's backlog) until released() is called. */
  maxConns?: number;
  diagnostics: Diagnostics;
  /**
   * Gets each admitted connection (non-blocking, close-on-exec) and owns fd from then on. An exception
   * it throws is reported in one line and closes that connection only; the loop goes on.
   */
  onPeer: (fd: number, cred: Ucred | null) => void;
  /** Called once no connection has been left for a second after some were served (a server gives memory back then). */
  onIdle?: () => void;
  /** -c N: once N connections handed out have been released, accepting stops and onServed is called. */
  count?: number | null;
  onServed?: () => void;
}

export interface AcceptLoop {
  /** Stops accepting (the caller still owns the listening socket). */
  stop(): void;
  /** Tells the loop that a connection it handed out ended: below --max-conns again, and descriptors may be free, so a paused loop tries at once. */
  released(): void;
  /** Stops accepting until resume() (the handler cannot serve more yet, e.g. no command can start): clients wait in the kernel's backlog. */
  hold(): void;
  /** Accepts again after hold() (within --max-conns). */
  resume(): void;
}

/**
 * Resolves with the first connection on listenFd that the rules admit, then stops accepting (the caller
 * owns listenFd and the connection). Rejects with UsockError (TEMPFAIL) when none comes within
 * timeoutSeconds (-w).
 */
export function acceptOne(
  listenFd: number,
  rules: AccessRules | null,
  diagnostics: Diagnostics,
  timeoutSeconds: number | null = null,
): Promise<{ fd: number; cred: Ucred | null }> {
  return new Promise((resolve, reject) => {
    const timer =
      timeoutSeconds === null
        ? null
        : setLongTimeout(() => {
            loop.stop();
            reject(new UsockError(`timed out after ${timeoutSeconds} s waiting for a client`, 'TEMPFAIL'));
          }, timeoutSeconds * 1000);
    const loop = acceptLoop(listenFd, {
      rules,
      diagnostics,
      onPeer: (fd, cred) => {
        timer?.clear();
        loop.stop();
        resolve({ fd, cred });
      },
    });
  });
}

/**
 * Accepts on listenFd until stopped. When accept(2) fails (out of descriptors, most often) the loop
 * stops watching, warns once for the episode, and tries again after a growing pause (10 ms up to
 * 1 s) or as soon as one of its connections ends; the pending clients wait in the kernel's backlog.
 */
export function acceptLoop(listenFd: number, opts: AcceptOptions): AcceptLoop {
  const watcher = new FdWatcher(listenFd);
  let stopped = false;
  let pause = 0; // ms of the current back-off; 0 while accepting normally
  let held = false;
  let timer: NodeJS.Timeout | null = null;
  let active = 0;
  let served = 0;
  let idleTimer: NodeJS.Timeout | null = null;
  const max = opts.maxConns ?? Infinity;

  const watch = () => watcher.onReadable(active < max && !held ? acceptSome : null);
  const retry = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!stopped) watch();
  };
  const backOff = (err: Error) => {
    if (pause === 0) {
      // A SysError's message names its call already ("accept: Too many open files (EMFILE)").
      const text = err.message.startsWith('accept') ? err.message : `accept: ${err.message}`;
      opts.diagnostics.warn('accept-failed', `${text}: pending clients wait until descriptors free up`, {
        code: (err as { code?: string }).code,
      });
    }
    pause = Math.min(pause === 0 ? FIRST_PAUSE_MS : pause * 2, LONGEST_PAUSE_MS);
    watcher.onReadable(null);
    timer = setTimeout(retry, pause);
  };

  function acceptSome(): void {
    for (let i = 0; i < ACCEPTS_PER_TURN && !stopped; i++) {
      if (active >= max || held) return watch(); // the rest wait in the backlog until one ends
      let fd: number | typeof WOULD_BLOCK;
      try {
        fd = accept(listenFd);
      } catch (err) {
        if ((err as { code?: string }).code === 'ECONNABORTED') continue; // that client left already
        return backOff(err as Error);
      }
      if (fd === WOULD_BLOCK) return;
      if (pause !== 0) {
        pause = 0;
        opts.diagnostics.info('accepting', 'accepting connections again');
      }
      admit(fd);
    }
  }

  function admit(fd: number): void {
    const cred = credentialsOf(fd);
    if (opts.rules && !(cred && admits(opts.rules, { ...cred, groups: peerGroups(fd) }))) {
      opts.diagnostics.warn(
        'rejected',
        `rejected ${describePeer(cred)}: no --allow rule matches`,
        { peer: cred },
        cred ? `rejected from uid ${cred.uid}` : 'rejected peers',
      );
      closeQuietly(fd);
      return;
    }
    opts.diagnostics.info('accepted', `connection from ${describePeer(cred)}`, { peer: cred });
    active++;
    try {
      opts.onPeer(fd, cred);
    } catch (err) {
      opts.diagnostics.warn('connection-error', `connection from ${describePeer(cred)}: ${(err as Error).message}`, { peer: cred });
      closeQuietly(fd);
      active--;
    }
  }

  watch();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (idleTimer) clearTimeout(idleTimer);
      watcher.close();
    },
    released() {
      active = Math.max(0, active - 1);
      if (opts.count && ++served === opts.count) {
        this.stop();
        opts.onServed?.();
        return;
      }
      if (active === 0 && opts.onIdle && !idleTimer) {
        idleTimer = setTimeout(() => {
          idleTimer = null;
          if (active === 0 && !stopped) opts.onIdle!();
        }, IDLE_MS).unref();
      }
      if (stopped) return;
      if (timer) retry();
      else if (active === max - 1) watch();
    },
    hold() {
      held = true;
      watch();
    },
    resume() {
      held = false;
      if (!stopped && !timer) watch();
    },
  };
}
