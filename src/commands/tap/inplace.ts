// `tap --inplace`: a daemon's live socket moved aside and a new socket put at its path (same owner, group and mode), and the daemon's socket put back.
import {
  accessSync,
  chmodSync,
  constants,
  lchownSync,
  linkSync,
  lstatSync,
  readdirSync,
  renameSync,
  unlinkSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError, UsockError } from '../../errors';
import { asSysError, hasCode, SysError } from '../../sys/errors';
import { closeQuietly } from '../../sys/fd';
import { bind, connect, listen, socket, type SocketType } from '../../sys/socket';
import { parseNamedAddress, type NamedAddress, type SocketAddress } from '../../net/address';
import { guardSocketFile, isSameFile } from '../../net/socketfile';

/** The mark in the name of a daemon's socket moved aside: `.NAME.usock-tap.PID`. */
const ASIDE_MARK = 'usock-tap';

export interface Inplace {
  /** tap's listening (or, for dgram, bound) socket, now at the daemon's path. */
  readonly fd: number;
  /** The daemon's socket where it was moved aside, for tap to connect to. */
  readonly target: NamedAddress;
  /** The path where the daemon's socket waits while tap runs. */
  readonly aside: string;
  /**
   * Puts the daemon's socket back at its path (one rename over tap's socket file); tap's socket stays
   * open (clients already in its backlog are still served) until the process ends. Returns null when
   * done (or done before), else a message saying why not and how to put it back by hand. Never throws.
   */
  restore(): string | null;
}

interface Identity {
  dev: number;
  ino: number;
}

/** Returns path quoted for a shell command line where it needs it. */
function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/** Returns the command that puts the daemon's socket at aside back at path. */
export function putBackCommand(aside: string, path: string): string {
  return `mv ${shellQuote(aside)} ${shellQuote(path)}`;
}

/**
 * Returns the daemon's socket at address moved aside (`.NAME.usock-tap.PID` in the same directory) and a
 * socket of `type` (listening, for stream and seqpacket) in its place, with the daemon socket's owner,
 * group and mode. Refuses, touching nothing: throws UsageError (64) for an abstract or non-UTF-8 address,
 * UsockError NOINPUT (66) when the path is missing, CANTCREAT (73) when it is not a socket, is not live,
 * or a socket moved aside by an earlier run is still there (the message gives the `mv` that puts it
 * back), NOPERM (77) when the directory is not writable (or the owner cannot be given); SysError otherwise.
 * Registers nothing for exit but the removal of its own socket file: the caller calls restore().
 */
export function takeOver(address: SocketAddress, type: SocketType, backlog: number): Inplace {
  if (address.kind !== 'path' || typeof address.path !== 'string') {
    throw new UsageError(`--inplace ${address.text}: needs a socket file's path (UTF-8)`);
  }
  const path = address.path;
  const dir = dirname(resolve(path));
  const name = basename(resolve(path));
  refuseLeftover(dir, name, path);
  let daemon: Stats;
  try {
    daemon = lstatSync(path);
  } catch (err) {
    if (hasCode(err, 'ENOENT', 'ENOTDIR')) throw new UsockError(`--inplace ${path}: no such file`, 'NOINPUT');
    if (hasCode(err, 'EACCES')) throw new UsockError(`--inplace ${path}: permission denied`, 'NOPERM');
    throw asSysError(err);
  }
  if (!daemon.isSocket()) throw new UsockError(`--inplace ${path}: not a socket (left untouched)`, 'CANTCREAT');
  probeLive(address, type);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    if (hasCode(err, 'EACCES', 'EPERM', 'EROFS')) {
      throw new UsockError(`--inplace ${path}: the directory ${dir} is not writable: the socket cannot be moved aside`, 'NOPERM');
    }
    throw asSysError(err);
  }
  const daemonId: Identity = { dev: daemon.dev, ino: daemon.ino };
  const temp = join(dir, `.${name}.usock-tapnew.${process.pid}`);
  const aside = join(dir, `.${name}.${ASIDE_MARK}.${process.pid}`);
  const tempAddress = parseNamedAddress(temp);
  const fd = socket(type);
  let tempGuard: { remove: () => void; unregister: () => void } | null = null;
  let ownId: Identity;
  try {
    try {
      unlinkSync(temp); // a leftover of a killed run with the same pid
    } catch {
      // none
    }
    const previous = process.umask(0o777); // no one may connect before the mode is set
    try {
      bind(fd, tempAddress.sockaddr, temp);
    } finally {
      process.umask(previous);
      tempAddress.release();
    }
    const st = lstatSync(temp);
    ownId = { dev: st.dev, ino: st.ino };
    tempGuard = guardSocketFile(temp, ownId);
    try {
      lchownSync(temp, daemon.uid, daemon.gid);
    } catch (err) {
      if (hasCode(err, 'EPERM', 'EACCES')) {
        throw new UsockError(
          `--inplace ${path}: cannot give tap's socket the owner ${daemon.uid}:${daemon.gid} of the daemon's socket (run as root or as its owner)`,
          'NOPERM',
        );
      }
      throw err;
    }
    chmodSync(temp, daemon.mode & 0o7777);
    if (type !== 'dgram') listen(fd, backlog);
    if (!isSameFile(path, daemonId)) throw new UsockError(`--inplace ${path}: the socket changed meanwhile (left untouched)`, 'CANTCREAT');
    moveAside(path, aside, daemonId);
    try {
      renameSync(temp, path); // replaces the daemon's name in one step: a client always finds a socket at path
    } catch (err) {
      if (isSameFile(aside, daemonId) && !isSameFile(path, daemonId)) renameSync(aside, path);
      else unlinkQuietly(aside);
      throw err;
    }
  } catch (err) {
    tempGuard?.remove();
    tempGuard?.unregister();
    closeQuietly(fd);
    throw asSysError(err); // node:fs's own message in usock's form
  }
  tempGuard.unregister();
  const ownGuard = guardSocketFile(path, ownId);
  const target = parseNamedAddress(aside);
  let restored = false;
  return {
    fd,
    target,
    aside,
    restore() {
      if (restored) return null;
      restored = true;
      let problem: string | null = null;
      if (!isSameFile(aside, daemonId)) {
        problem = `${aside} is no longer the daemon's socket: not put back at ${path}`;
      } else if (!isSameFile(path, ownId) && pathExists(path)) {
        problem = `${path} was replaced while tap ran: the daemon's old socket is left at ${aside} (put it back with: ${putBackCommand(aside, path)})`;
      } else {
        try {
          renameSync(aside, path); // also removes tap's socket file: one atomic step
        } catch (err) {
          problem = `could not put the daemon's socket back: ${(asSysError(err) as Error).message} (put it back with: ${putBackCommand(aside, path)})`;
        }
      }
      ownGuard.remove(); // only while path is still tap's own socket
      ownGuard.unregister();
      return problem;
    },
  };
}

/**
 * Gives the daemon's socket at path a second name, aside, leaving path in place: a hard link, so that
 * the one rename that follows leaves no moment without a socket at path. Where the kernel refuses the
 * link (fs.protected_hardlinks for a socket usock's user does not own), moves it with a rename instead.
 * Throws UsockError NOPERM when it can do neither, CANTCREAT when aside is not the daemon's socket after.
 */
function moveAside(path: string, aside: string, daemonId: Identity): void {
  try {
    linkSync(path, aside);
  } catch {
    try {
      renameSync(path, aside);
    } catch (err) {
      if (hasCode(err, 'EACCES', 'EPERM', 'EROFS'))
        throw new UsockError(`--inplace ${path}: cannot move it aside: ${(asSysError(err) as Error).message}`, 'NOPERM');
      throw err;
    }
  }
  if (!isSameFile(aside, daemonId)) {
    unlinkQuietly(aside);
    throw new UsockError(`--inplace ${path}: the socket changed meanwhile (left untouched)`, 'CANTCREAT');
  }
}

/** Removes path if it can; never throws. */
function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/** Returns true when something (anything) is at path. */
function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Throws UsockError CANTCREAT when a socket moved aside by an earlier run (`.NAME.usock-tap.*`) is in dir; an unreadable dir is not checked. */
function refuseLeftover(dir: string, name: string, path: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `.${name}.${ASIDE_MARK}.`;
  const left = entries.find((e) => e.startsWith(prefix));
  if (left === undefined) return;
  const aside = join(dirname(path), left);
  throw new UsockError(
    `--inplace ${path}: a socket moved aside by an earlier tap is still there: put it back with: ${putBackCommand(aside, path)}`,
    'CANTCREAT',
    "or remove it if it is no daemon's socket",
  );
}

/** Throws UsockError unless a server of `type` accepts connections at address: CANTCREAT when nothing listens or the type differs, NOPERM when connecting is not allowed. */
function probeLive(address: NamedAddress, type: SocketType): void {
  const probe = socket(type);
  try {
    connect(probe, address.sockaddr, address.text);
  } catch (err) {
    if (err instanceof SysError) {
      if (err.code === 'ECONNREFUSED')
        throw new UsockError(`--inplace ${address.text}: a stale socket, nothing listens (left untouched)`, 'CANTCREAT');
      if (err.code === 'EPROTOTYPE')
        throw new UsockError(`--inplace ${address.text}: not a ${type} socket (left untouched)`, 'CANTCREAT', 'choose its type with -t');
      if (err.code === 'EACCES' || err.code === 'EPERM') throw new UsockError(`--inplace ${address.text}: permission denied`, 'NOPERM');
    }
    throw err;
  } finally {
    closeQuietly(probe);
  }
}
