// The user and group databases through libc (getpwnam_r, getpwuid_r, getgrnam_r, getgrgid_r, getgrouplist, getpwent_r): NSS included; becoming a user (initgroups, setgid, setuid).
import { errno, lib } from './libc';
import { SysError } from './errors';
import { fail } from './fd';
import { ENOENT, ERANGE } from './platform/linux';

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
}
export interface GroupEntry {
  name: string;
  gid: number;
}

/** A get*_r function of the user or group database, looking up by name or id. */
type Lookup<K> = (key: K, struct: Buffer, buf: Buffer, len: number, result: unknown[]) => number;

/** Calls a get*_r function with a growing buffer; returns [struct, strings buffer] or null when there is no entry. Throws SysError. */
function lookup<K>(fn: Lookup<K>, key: K, structSize: number, name: string): [Buffer, Buffer] | null {
  for (let size = 4096; size <= 1 << 22; size *= 4) {
    const struct = Buffer.alloc(structSize);
    const buf = Buffer.alloc(size);
    const result: unknown[] = [null];
    const rc = fn(key, struct, buf, size, result);
    if (rc === ERANGE) continue;
    if (rc !== 0) throw new SysError(name, rc);
    return result[0] ? [struct, buf] : null;
  }
  throw new SysError(name, ERANGE);
}

/** Returns the C string a pointer in `struct` at offset refers to, found inside `buf`. */
function stringAt(struct: Buffer, offset: number, buf: Buffer): string {
  const ptr = struct.readBigUInt64LE(offset);
  const base = lib().koffi.address(buf);
  const start = Number(ptr - base);
  if (start < 0 || start >= buf.length) return '';
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 ? buf.length : end);
}

// struct passwd: pw_name 0, pw_passwd 8, pw_uid 16, pw_gid 20, ... (48 bytes); struct group: gr_name 0, gr_passwd 8, gr_gid 16, gr_mem 24 (32 bytes)
function user(found: [Buffer, Buffer] | null): UserEntry | null {
  if (!found) return null;
  const [s, buf] = found;
  return { name: stringAt(s, 0, buf), uid: s.readUInt32LE(16), gid: s.readUInt32LE(20) };
}

function group(found: [Buffer, Buffer] | null): GroupEntry | null {
  if (!found) return null;
  const [s, buf] = found;
  return { name: stringAt(s, 0, buf), gid: s.readUInt32LE(16) };
}

/** Returns the user called name, or null. Throws SysError when the database fails. */
export function userByName(name: string): UserEntry | null {
  return user(lookup(lib().getpwnam_r, name, 48, 'getpwnam_r'));
}

/** Returns the user with uid, or null. Throws SysError. */
export function userById(uid: number): UserEntry | null {
  return user(lookup(lib().getpwuid_r, uid, 48, 'getpwuid_r'));
}

/** Returns the group called name, or null. Throws SysError. */
export function groupByName(name: string): GroupEntry | null {
  return group(lookup(lib().getgrnam_r, name, 32, 'getgrnam_r'));
}

/** Returns the group with gid, or null. Throws SysError. */
export function groupById(gid: number): GroupEntry | null {
  return group(lookup(lib().getgrgid_r, gid, 32, 'getgrgid_r'));
}

/** Returns every gid user belongs to, gid included (getgrouplist). */
export function groupsOf(userName: string, gid: number): number[] {
  for (let n = 64; ; n *= 4) {
    const list = new Uint32Array(n);
    const count = new Int32Array([n]);
    if (lib().getgrouplist(userName, gid, list, count) >= 0) return [...list.subarray(0, count[0])];
    if (count[0]! <= n) {
      if (n > 1 << 16) throw new SysError('getgrouplist', errno() || ERANGE);
    }
  }
}

/**
 * Returns every user of the user database (setpwent, getpwent_r, endpwent: every NSS source, as
 * `getent passwd` lists them), in its order, each name once. Throws SysError when the database fails.
 */
export function allUsers(): UserEntry[] {
  const f = lib();
  const seen = new Set<string>();
  const users: UserEntry[] = [];
  f.setpwent();
  try {
    for (;;) {
      let found: [Buffer, Buffer] | null | undefined;
      for (let size = 4096; found === undefined; size *= 4) {
        if (size > 1 << 22) throw new SysError('getpwent_r', ERANGE);
        const struct = Buffer.alloc(48);
        const buf = Buffer.alloc(size);
        const result: unknown[] = [null];
        const rc = f.getpwent_r(struct, buf, size, result);
        if (rc === ERANGE) continue; // glibc keeps its place: the same entry comes again
        if (rc === ENOENT || (rc === 0 && !result[0])) found = null;
        else if (rc !== 0) throw new SysError('getpwent_r', rc);
        else found = [struct, buf];
      }
      const entry = user(found);
      if (!entry) return users;
      if (!seen.has(entry.name)) users.push(entry);
      seen.add(entry.name);
    }
  } finally {
    f.endpwent();
  }
}

/** Drops this process to uid, gid and the user's groups for good (initgroups, setgid, setuid). Throws SysError. */
export function becomeUser(user: string, uid: number, gid: number): void {
  const c = lib();
  if (c.initgroups(user, gid) < 0) fail('initgroups', user);
  if (c.setgid(gid) < 0) fail('setgid');
  if (c.setuid(uid) < 0) fail('setuid');
}
