// The walk to a socket file as the kernel makes it: every directory searched, symbolic links followed, each component's owner, mode and ACL.
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { UsockError } from '../errors';
import { escapeBytes } from '../report/text';
import { asSysError, hasCode } from '../sys/errors';
import { lgetxattr } from '../sys/xattr';
import { parseAcl, type PathStep } from './permissions';

/** As many symbolic links as Linux follows in one lookup (MAXSYMLINKS). */
const MAX_LINKS = 40;

/** Paths are handled as latin1 text, one character per byte, so that names that are not UTF-8 survive; these convert. */
const bytesOf = (p: string) => Buffer.from(p, 'latin1');
const shown = (p: string) => escapeBytes(bytesOf(p));

/** Returns the access ACL of the file at p (latin1), or null when it has none or its filesystem keeps none. Throws SysError, RangeError (a malformed ACL). */
function aclOf(p: string) {
  try {
    const value = lgetxattr(bytesOf(p), 'system.posix_acl_access');
    return value ? parseAcl(value) : null;
  } catch (err) {
    if (hasCode(err, 'ENOTSUP', 'EOPNOTSUPP')) return null;
    throw err;
  }
}

/**
 * Returns the components the kernel checks when a process connects to path (given as text, or as its
 * bytes where they are not UTF-8): `/` and each directory it searches, each symbolic link it follows
 * (expanded in place, `..` taken after the link as the kernel does), and the socket file last. A relative
 * path is taken from the current directory, the directories above it included (another user reaches the
 * socket by its full path). Throws UsockError: NOINPUT (66) when a component does not exist, is not a
 * directory where one is needed, or the end is not a socket; NOPERM (77) when usock itself may not look
 * into a directory. `label` starts the messages (`who-can /run/x/app.sock`).
 */
export function walkToSocket(path: string | Buffer, label: string): PathStep[] {
  const given = (typeof path === 'string' ? Buffer.from(path) : path).toString('latin1');
  const absolute = given.startsWith('/') ? given : `${Buffer.from(process.cwd()).toString('latin1')}/${given}`;
  const steps: PathStep[] = [];
  const searched = new Set<string>();
  const record = (p: string, kind: PathStep['kind']): PathStep => {
    const st = lstatOf(p, label);
    const step: PathStep = { path: shown(p), kind, uid: st.uid, gid: st.gid, mode: st.mode, acl: kind === 'symlink' ? null : aclOf(p) };
    return step;
  };
  const search = (dir: string) => {
    if (searched.has(dir)) return;
    searched.add(dir);
    steps.push(record(dir, 'directory'));
  };
  const fail = (message: string) => new UsockError(`${label}: ${message}`, 'NOINPUT');

  let pending = absolute.split('/').filter((c) => c !== '' && c !== '.');
  let current = '/';
  search(current);
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '..') {
      current = posix.dirname(current);
      continue;
    }
    if (name === '.') continue;
    const next = current === '/' ? `/${name}` : `${current}/${name}`;
    const st = lstatOf(next, label);
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw fail(`too many levels of symbolic links at ${shown(next)}`);
      let target: string;
      try {
        target = readlinkSync(bytesOf(next), { encoding: 'buffer' }).toString('latin1');
      } catch (err) {
        throw asSysError(err, `${label}: readlink`, shown(next));
      }
      steps.push({ ...record(next, 'symlink'), target: shown(target) });
      if (target.startsWith('/')) current = '/';
      pending = [...target.split('/').filter((c) => c !== '' && c !== '.'), ...pending];
      continue;
    }
    if (pending.length > 0) {
      if (!st.isDirectory()) throw fail(`${shown(next)} is not a directory`);
      search(next);
      current = next;
      continue;
    }
    if (!st.isSocket()) throw fail(`${shown(next)} is not a socket (${kindOf(st.mode)})`);
    steps.push(record(next, 'socket'));
    return steps;
  }
  throw fail(`${shown(current)} is not a socket (directory)`);
}

/** Returns the lstat of p (latin1); throws UsockError naming p when it does not exist or cannot be looked at. */
function lstatOf(p: string, label: string) {
  try {
    return lstatSync(bytesOf(p));
  } catch (err) {
    if (hasCode(err, 'ENOENT')) throw new UsockError(`${label}: ${shown(p)} does not exist`, 'NOINPUT');
    if (hasCode(err, 'EACCES', 'EPERM')) {
      throw new UsockError(
        `${label}: cannot look into ${shown(posix.dirname(p))}: Permission denied (${(err as { code: string }).code})`,
        'NOPERM',
        'run who-can as root, or as a user who may search every directory of the path',
      );
    }
    throw asSysError(err, `${label}: lstat`, shown(p)); // ELOOP, ENAMETOOLONG...: in usock's form
  }
}

/** Returns a file type in words, for `is not a socket (…)`: 'regular file', 'directory', 'socket'... */
export function kindOf(mode: number): string {
  return (
    (
      {
        0o140000: 'socket',
        0o100000: 'regular file',
        0o040000: 'directory',
        0o020000: 'character device',
        0o060000: 'block device',
        0o010000: 'FIFO',
      } as Record<number, string>
    )[mode & 0o170000] ?? 'another kind of file'
  );
}
