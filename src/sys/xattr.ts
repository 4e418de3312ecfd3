// Extended attributes through libc (lgetxattr): the POSIX ACL of a file is its `system.posix_acl_access` attribute.
import { errno, lib } from './libc';
import { SysError } from './errors';
import { ENODATA, ERANGE } from './platform/linux';

/** Returns bytes with one NUL appended: a C string for a path given as text (UTF-8) or as its exact bytes. */
function cString(path: string | Buffer): Buffer {
  return Buffer.concat([typeof path === 'string' ? Buffer.from(path) : path, Buffer.from([0])]);
}

/**
 * Returns the value of the extended attribute name of path, without following a final symbolic link
 * (lgetxattr), or null when the file has no such attribute (ENODATA). Throws SysError (ENOTSUP where the
 * filesystem has no extended attributes, ENOENT, EACCES, ...).
 */
export function lgetxattr(path: string | Buffer, name: string): Buffer | null {
  const p = cString(path);
  for (let size = 256; size <= 1 << 20; size *= 4) {
    const value = Buffer.alloc(size);
    const n = Number(lib().lgetxattr(p, name, value, size));
    if (n >= 0) return value.subarray(0, n);
    const e = errno();
    if (e === ENODATA) return null;
    if (e !== ERANGE) throw new SysError('lgetxattr', e, typeof path === 'string' ? path : path.toString('latin1'));
  }
  throw new SysError('lgetxattr', ERANGE);
}
