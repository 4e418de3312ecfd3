// What a descriptor is: kind (from fstat and /proc/self/fd), target (/proc/self/fd readlink), open flags and offset (/proc/self/fdinfo).
import * as L from '../sys/platform/linux';
import { isTerminal } from '../sys/tty';
import { fstatSync, readFileSync, readlinkSync, type Stats } from 'node:fs';

export interface DescriptorInfo {
  /** The descriptor's number in this process. */
  fd: number;
  /** file, directory, pipe, fifo, socket, tty, char device, block device, symlink, memfd, or an anon_inode name (eventfd, epoll, timerfd, signalfd, pidfd, inotify, ...). */
  kind: string;
  /** What /proc/self/fd/N points to: a path, `pipe:[INODE]`, `socket:[INODE]`, `anon_inode:[eventfd]`... */
  target: string;
  /** The open file description's flags, e.g. ['O_WRONLY', 'O_APPEND'] (O_CLOEXEC and O_LARGEFILE left out). */
  flags: string[];
  /** The file offset (fdinfo pos), or null when /proc does not tell. */
  pos: number | null;
}

// The open(2) flags as /proc/self/fdinfo/N shows them (octal), besides the access mode and the sync flags.
const FLAG_NAMES: Array<[number, string]> = [
  [L.O_APPEND, 'O_APPEND'],
  [L.O_NONBLOCK, 'O_NONBLOCK'],
  [L.O_ASYNC, 'O_ASYNC'],
  [L.O_DIRECT, 'O_DIRECT'],
  [L.O_DIRECTORY, 'O_DIRECTORY'],
  [L.O_NOFOLLOW, 'O_NOFOLLOW'],
  [L.O_NOATIME, 'O_NOATIME'],
];

/** Returns the names of the open flags in `flags` (the octal number of fdinfo): access mode first, then the others. */
export function openFlagNames(flags: number): string[] {
  const names: string[] = [];
  if (flags & L.O_PATH) names.push('O_PATH');
  else names.push(['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][flags & 3]!);
  for (const [bit, name] of FLAG_NAMES) if (flags & bit) names.push(name);
  if (flags & L.O_SYNC_BIT) names.push('O_SYNC');
  else if (flags & L.O_DSYNC) names.push('O_DSYNC');
  if (flags & L.O_TMPFILE_BIT) names.push('O_TMPFILE');
  return names;
}

/** Returns the kind of a descriptor from its stat and its /proc/self/fd target. */
export function kindOf(st: Stats | null, target: string, tty: boolean): string {
  const anon = /^anon_inode:\[?([^\]]+)\]?$/.exec(target);
  if (anon) return anon[1] === 'eventpoll' ? 'epoll' : anon[1]!;
  if (!st) return 'unknown';
  if (st.isFile()) return target.startsWith('/memfd:') ? 'memfd' : 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return target.startsWith('pipe:') ? 'pipe' : 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return tty ? 'tty' : 'char device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isSymbolicLink()) return 'symlink';
  return 'unknown';
}

/** Returns the description of fd, an open descriptor of this process; fields /proc or fstat cannot give fall back to 'unknown', '' or null. Never throws; closes nothing. */
export function describeDescriptor(fd: number): DescriptorInfo {
  let target = '';
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    // /proc not mounted
  }
  let st: Stats | null = null;
  try {
    st = fstatSync(fd);
  } catch {
    // not expected for an open descriptor
  }
  let flags: string[] = [];
  let pos: number | null = null;
  try {
    const text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    const f = /^flags:\s*([0-7]+)$/m.exec(text);
    if (f) flags = openFlagNames(parseInt(f[1]!, 8));
    const p = /^pos:\s*(\d+)$/m.exec(text);
    if (p) pos = Number(p[1]);
  } catch {
    // /proc not mounted
  }
  let tty = false;
  try {
    tty = st !== null && st.isCharacterDevice() && isTerminal(fd);
  } catch {
    // not a tty
  }
  return { fd, kind: kindOf(st, target, tty), target, flags, pos };
}
