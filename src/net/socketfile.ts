// Sockets bound at an address, a server's or a client's (--bind): a stale socket file replaced, a live one or a non-socket refused, the created file removed at exit if still ours.
import { linkSync, lstatSync, renameSync, unlinkSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsockError, UsageError } from '../errors';
import { asSysError, describeErrno, hasCode, SysError } from '../sys/errors';
import { close, closeQuietly } from '../sys/fd';
import { bind, connect, socket, type SocketType } from '../sys/socket';
import type { NamedAddress, SocketAddress } from './address';
import { findOwners, readUnixSockets } from './procnet';
import { userById } from '../sys/users';

export interface BindOptions {
  mode?: number;
  /** Reports that a stale socket file was replaced. */
  onStaleReplaced?: (path: string) => void;
  /** The word that starts a failure about the path: the command (`listen /x.sock: Permission denied (EACCES)`); default `bind`. */
  label?: string;
}

export interface BoundSocket {
  readonly fd: number;
  readonly address: SocketAddress;
  /** Closes the socket and removes the socket file if the path is still the one usock created. Safe to call twice. */
  close(): void;
  /** Hands fd to another owner: close() then only removes the socket file. */
  giveAwayDescriptor(): void;
}

/** Removers of the socket files this process created and still holds. */
const createdFiles = new Set<() => void>();

/** Removes every socket file this process created, where the path is still that socket; for the exit and signal paths. Never throws. */
export function removeSocketFiles(): void {
  for (const remove of createdFiles) remove();
  createdFiles.clear();
}

/** Returns the permission bits of a --mode argument. Throws UsageError (64) for anything but octal 0-0777. */
export function parseMode(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^0?[0-7]{1,3}$/.test(String(text))) throw new UsageError(`bad --mode '${text}': expected octal permission bits such as 0660`);
  return parseInt(String(text), 8);
}

/**
 * Returns the error of a socket file that cannot be created at text (label: the command, or `bind`), from
 * err: a missing directory (ENOENT) or a component that is not one (ENOTDIR) is CANTCREAT (73, naming the
 * directory); any other system error (a SysError, or Node's own from node:fs) becomes a SysError on text
 * in usock's form (`listen /root/x.sock: Permission denied (EACCES)`); anything else is returned as it is.
 */
export function cannotCreate(err: unknown, label: string, text: string): unknown {
  const sys = asSysError(err, label, text);
  if (!(sys instanceof SysError)) return sys;
  if (sys.code === 'ENOENT' || sys.code === 'ENOTDIR') {
    const dir = dirname(text);
    return new UsockError(
      `${label} ${text}: ${describeErrno(sys.errno)[1]} (${sys.code})`,
      'CANTCREAT',
      sys.code === 'ENOENT'
        ? `the directory ${dir} does not exist: create it first (mkdir -p ${dir})`
        : `a component of ${dir} is not a directory`,
    );
  }
  return sys.syscall === label && sys.path === text ? sys : new SysError(label, sys.errno, text);
}

/**
 * Returns a socket of `type` bound to address (not listening). A stale socket file is replaced; a live
 * socket or a file that is not a socket is refused (CANTCREAT) and left alone; a missing directory is
 * CANTCREAT too (see cannotCreate). Throws UsockError or SysError (each about the path labelled
 * opts.label); closes the socket it made on failure. The caller owns the result.
 */
export function bindSocketFile(address: NamedAddress, type: SocketType, opts: BindOptions = {}): BoundSocket {
  const label = opts.label ?? 'bind';
  if (address.path !== undefined) {
    try {
      clearStaleSocket(address, type, opts);
    } catch (err) {
      if (err instanceof UsockError) throw err;
      throw cannotCreate(err, label, address.text);
    }
  }
  const fd = socket(type);
  let identity: { dev: number; ino: number } | null = null;
  try {
    const previous = opts.mode === undefined ? undefined : process.umask(0o777 & ~opts.mode);
    try {
      bind(fd, address.sockaddr, address.text);
    } finally {
      if (previous !== undefined) process.umask(previous);
    }
    if (address.path !== undefined) {
      const st = lstatSync(address.path);
      identity = { dev: st.dev, ino: st.ino };
    }
  } catch (err) {
    closeQuietly(fd);
    if (hasCode(err, 'EADDRINUSE')) throw addressInUse(address);
    throw cannotCreate(err, label, address.text); // bind and the lstat after it are about the path
  } finally {
    address.release();
  }
  let closed = false;
  let ownsFd = true;
  const { remove: removeFile, unregister } =
    identity && address.path !== undefined ? guardSocketFile(address.path, identity) : { remove: () => {}, unregister: () => {} };
  return {
    fd,
    address,
    close() {
      if (closed) return;
      closed = true;
      unregister();
      removeFile();
      if (ownsFd) close(fd);
    },
    giveAwayDescriptor() {
      ownsFd = false;
    },
  };
}

/**
 * Registers the socket file at path (identity: its dev and inode when usock created it) for removal at exit.
 * Returns remove (unlinks path only while it is still that file, by dev and inode; never throws) and
 * unregister (drops it from the exit clean-up).
 */
export function guardSocketFile(
  path: string | Buffer,
  identity: { dev: number; ino: number },
): { remove: () => void; unregister: () => void } {
  const remove = () => removeIfSame(path, identity);
  createdFiles.add(remove);
  return { remove, unregister: () => createdFiles.delete(remove) };
}

/**
 * Unlinks path while it is the socket file identity names. A check then an unlink would delete a file put
 * there between the two; so the file is first renamed aside (same directory), checked there, and unlinked
 * only if it is the one: anything else goes back to path (never over a newer file). Never throws.
 */
function removeIfSame(path: string | Buffer, identity: { dev: number; ino: number }): void {
  if (!isSameFile(path, identity)) return;
  const aside = asideName(path);
  try {
    renameSync(path, aside);
  } catch (err) {
    if (!hasCode(err, 'ENAMETOOLONG')) return; // gone meanwhile
    try {
      unlinkSync(path); // no room for a longer name: the check above has to do
    } catch {
      // already gone
    }
    return;
  }
  try {
    if (isSameFile(aside, identity)) return unlinkSync(aside);
    linkSync(aside, path); // someone else's file, renamed between the check and the rename: back in place
    unlinkSync(aside);
  } catch (err) {
    // a directory cannot be linked: renamed back unless something newer is at path (then it stays at aside)
    if (hasCode(err, 'EPERM')) {
      try {
        lstatSync(path);
      } catch {
        try {
          renameSync(aside, path);
        } catch {
          // gone
        }
      }
    }
  }
}

/** Returns the name in path's directory under which removeIfSame holds a file a moment: `.NAME.usock-rm.PID`. */
function asideName(path: string | Buffer): string | Buffer {
  const p = typeof path === 'string' ? Buffer.from(path) : path;
  const slash = p.lastIndexOf(0x2f);
  const aside = Buffer.concat([p.subarray(0, slash + 1), Buffer.from('.'), p.subarray(slash + 1), Buffer.from(`.usock-rm.${process.pid}`)]);
  return typeof path === 'string' ? aside.toString() : aside;
}

/** Returns true while path is a socket file with that dev and inode. */
export function isSameFile(path: string | Buffer, id: { dev: number; ino: number }): boolean {
  try {
    const st = lstatSync(path);
    return st.isSocket() && st.dev === id.dev && st.ino === id.ino;
  } catch {
    return false;
  }
}

/**
 * Removes a socket file nobody listens on (another user's only as refuseOthersStaleSocket allows); throws
 * UsockError CANTCREAT for a live socket or a non-socket, and SysError or Node's error of node:fs otherwise
 * (bindSocketFile puts those in usock's form). Returns quietly when nothing is there, or a directory on the
 * way is missing (bind says so).
 */
function clearStaleSocket(address: NamedAddress, type: SocketType, opts: BindOptions): void {
  const path = address.path!;
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (hasCode(err, 'ENOENT', 'ENOTDIR')) return;
    throw err;
  }
  if (!st.isSocket()) {
    throw new UsockError(`${address.text}: file exists and is not a socket (left untouched)`, 'CANTCREAT');
  }
  const probe = socket(type);
  try {
    connect(probe, address.sockaddr, address.text);
  } catch (err) {
    if (err instanceof SysError && err.code === 'ECONNREFUSED') {
      refuseOthersStaleSocket(address, st);
      const again = lstatSync(path);
      if (again.ino === st.ino && again.dev === st.dev) unlinkSync(path);
      opts.onStaleReplaced?.(address.text);
      return;
    }
    if (!(err instanceof SysError && err.code === 'EPROTOTYPE')) throw err;
  } finally {
    closeQuietly(probe);
  }
  throw addressInUse(address);
}

/**
 * Throws UsockError (CANTCREAT) unless usock may replace the stale socket at path (stat st): it is
 * usock's own user's, or the directory is not sticky and belongs to that user. In a sticky directory
 * such as /tmp, root would otherwise remove another user's file.
 */
function refuseOthersStaleSocket(address: NamedAddress, st: { uid: number }): void {
  const euid = process.geteuid?.() ?? -1;
  if (st.uid === euid) return;
  const dir = lstatSync(parentOf(address.path!));
  const sticky = (dir.mode & 0o1000) !== 0;
  if (!sticky && dir.uid === euid) return;
  let owner = `uid ${st.uid}`;
  try {
    const user = userById(st.uid);
    if (user) owner = `${user.name} (uid ${st.uid})`;
  } catch {
    // the user database failed: the number says enough
  }
  throw new UsockError(
    `${address.text}: a stale socket owned by ${owner}${sticky ? ' in a sticky directory' : ''}: not replaced (left untouched)`,
    'CANTCREAT',
    'remove it as its owner, or choose another address',
  );
}

/** Returns the directory that holds path (a string, or bytes that are not UTF-8). */
function parentOf(path: string | Buffer): string | Buffer {
  if (typeof path === 'string') return dirname(resolve(path));
  const slash = path.lastIndexOf(0x2f);
  return slash < 0 ? '.' : slash === 0 ? '/' : path.subarray(0, slash);
}

/** Returns the exit-73 error for an address a live socket holds, naming its owner where /proc shows it. */
function addressInUse(address: NamedAddress): UsockError {
  const full = typeof address.path === 'string' ? resolve(address.path) : undefined;
  const candidates = readUnixSockets().filter((s) => s.address === address.text || (full !== undefined && s.address === full));
  const owners = findOwners(candidates.map((c) => c.inode));
  const listening = candidates.find((c) => c.listening && owners.has(c.inode)) ?? candidates.find((c) => owners.has(c.inode));
  const owner = listening ? owners.get(listening.inode)![0] : undefined;
  const who = owner ? ` by pid ${owner.pid} (${owner.command || '?'})` : '';
  return new UsockError(`${address.text}: address in use${who}`, 'CANTCREAT', 'stop that process, or choose another address');
}
