// Unit tests of src/sys/xattr.ts on real files: an attribute's value (longer than the first buffer too), null where
// there is none, the POSIX ACL setfacl wrote, a final symbolic link not followed, a path given as bytes, errors naming the path.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { lgetxattr } from '../../../src/sys/xattr.ts';
import { NOBODY_UID, PYTHON, tmpDir } from '../../helpers.mjs';

/** Sets the extended attribute name of path (bytes given as latin1 text) to value, through python3's os.setxattr. */
function setxattr(file, name, value) {
  const script = 'import os, sys; os.setxattr(sys.argv[1].encode("latin1"), sys.argv[2], sys.argv[3].encode())';
  const r = spawnSync(PYTHON, ['-c', script, Buffer.isBuffer(file) ? file.toString('latin1') : file, name, value], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}

test('the value of an attribute, however long; null for an attribute the file does not have', (t) => {
  const file = path.join(tmpDir(t), 'f');
  fs.writeFileSync(file, '');
  setxattr(file, 'user.short', 'v');
  const long = 'x'.repeat(3000); // beyond the first 256-byte buffer: ERANGE, then a larger one
  setxattr(file, 'user.long', long);
  t.is(lgetxattr(file, 'user.short')?.toString(), 'v');
  t.is(lgetxattr(file, 'user.long')?.toString(), long);
  t.is(lgetxattr(file, 'user.none'), null);
  t.is(lgetxattr(file, 'system.posix_acl_access'), null);
});

test('the POSIX ACL setfacl wrote: version 2, then one entry per tag, with the named user and its permission', (t) => {
  const file = path.join(tmpDir(t), 'f');
  fs.writeFileSync(file, '');
  const r = spawnSync('setfacl', ['-m', `u:${NOBODY_UID}:r`, file], { encoding: 'utf8' });
  if (r.error) return t.pass('setfacl is not installed'); // the acl package, in CI
  t.is(r.status, 0, r.stderr);
  const acl = lgetxattr(file, 'system.posix_acl_access');
  if (!acl) return t.fail('no ACL after setfacl');
  t.is(acl.readUInt32LE(0), 2);
  t.is((acl.length - 4) % 8, 0);
  const entries = [];
  for (let off = 4; off < acl.length; off += 8)
    entries.push({ tag: acl.readUInt16LE(off), perm: acl.readUInt16LE(off + 2), id: acl.readUInt32LE(off + 4) });
  t.deepEqual(
    entries.find((e) => e.tag === 0x02),
    { tag: 0x02, perm: 4, id: NOBODY_UID },
  ); // ACL_USER nobody r
});

test('a final symbolic link is not followed; a path given as bytes (not UTF-8) is used as it is', (t) => {
  const dir = tmpDir(t);
  const file = Buffer.from(`${dir}/\xff\xfe`, 'latin1');
  fs.writeFileSync(file, '');
  setxattr(file, 'user.x', 'bytes');
  t.is(lgetxattr(file, 'user.x')?.toString(), 'bytes');
  const link = path.join(dir, 'link');
  fs.symlinkSync(file, link);
  t.is(lgetxattr(link, 'user.x'), null); // the link's own attributes: symbolic links have no user.* ones
});

test('a missing file throws SysError naming lgetxattr, the errno and the path', (t) => {
  const file = path.join(tmpDir(t), 'missing');
  t.like(
    t.throws(() => lgetxattr(file, 'user.x'), { name: 'SysError' }),
    { syscall: 'lgetxattr', code: 'ENOENT', path: file },
  );
});
