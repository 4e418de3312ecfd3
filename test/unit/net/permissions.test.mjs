// Unit tests of src/net/permissions.ts: the kernel's access check on hand-made records (owner, groups, other, root, ACLs, masks, the empty mask), the reasons, and ACLs read back from real files (setfacl, lgetxattr).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ACL_GROUP,
  ACL_GROUP_OBJ,
  ACL_MASK,
  ACL_OTHER,
  ACL_USER,
  ACL_USER_OBJ,
  MAY_EXEC,
  MAY_WRITE,
  NO_ID,
  aclEntryText,
  checkStep,
  evaluate,
  modeString,
  outcomeDiffers,
  parseAcl,
} from '../../../src/net/permissions.ts';
import { lgetxattr } from '../../../src/sys/xattr.ts';

const USERS = { 0: 'root', 1: 'daemon', 2: 'bin', 100: 'app', 200: 'alice', 65534: 'nobody' };
const GROUPS = { 0: 'root', 1: 'daemon', 100: 'app', 50: 'staff', 65534: 'nogroup' };
const names = { user: (u) => USERS[u] ?? String(u), group: (g) => GROUPS[g] ?? String(g) };

const dir = (p, uid, gid, perm, acl = null) => ({
  path: p,
  kind: /** @type {const} */ ('directory'),
  uid,
  gid,
  mode: 0o040000 | perm,
  acl,
});
const sock = (p, uid, gid, perm, acl = null) => ({ path: p, kind: /** @type {const} */ ('socket'), uid, gid, mode: 0o140000 | perm, acl });
const acl = (...entries) => entries.map(([tag, perm, id = null]) => ({ tag, perm, id }));
/** The walk to /run/app/app.sock with the given app directory and socket. */
const walk = (appDir, socket) => [dir('/', 0, 0, 0o755), dir('/run', 0, 0, 0o755), appDir, socket];

const app = { uid: 100, gids: [100] };
const alice = { uid: 200, gids: [200, 50] }; // in staff (supplementary)
const nobody = { uid: 65534, gids: [65534] };
const root = { uid: 0, gids: [0] };

test('parseAcl reads an ACL that setfacl wrote, back through lgetxattr', (t) => {
  if (spawnSync('setfacl', ['--version']).error) return t.pass('setfacl is not installed');
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'us-acl-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  const f = path.join(d, 'f');
  fs.writeFileSync(f, '');
  fs.chmodSync(f, 0o640);
  t.is(lgetxattr(f, 'system.posix_acl_access'), null, 'no ACL: ENODATA gives null');
  const set = spawnSync('setfacl', ['-m', 'u:65534:rw,g:1:r,m::rw', f], { encoding: 'utf8' });
  if (set.status !== 0) return t.pass(`setfacl failed here (no ACL support?): ${set.stderr}`);
  const value = lgetxattr(f, 'system.posix_acl_access');
  t.is(value.readUInt32LE(0), 2);
  t.deepEqual(
    parseAcl(value),
    acl([ACL_USER_OBJ, 6], [ACL_USER, 6, 65534], [ACL_GROUP_OBJ, 4], [ACL_GROUP, 4, 1], [ACL_MASK, 6], [ACL_OTHER, 0]),
  );
  const err = t.throws(() => lgetxattr(path.join(d, 'missing'), 'system.posix_acl_access'));
  t.is(/** @type {Error & { code?: string }} */ (err).code, 'ENOENT');
});

test('parseAcl refuses what is not a version 2 list of 8-byte entries', (t) => {
  t.throws(() => parseAcl(Buffer.from([2, 0, 0])), { instanceOf: RangeError });
  t.throws(() => parseAcl(Buffer.from([1, 0, 0, 0])), { instanceOf: RangeError, message: /version 1/ });
  t.throws(() => parseAcl(Buffer.from([2, 0, 0, 0, 1, 0, 6])), { instanceOf: RangeError });
  t.throws(() => parseAcl(Buffer.from([2, 0, 0, 0, 0x40, 0, 6, 0, 0, 0, 0, 0])), { instanceOf: RangeError, message: /tag 0x40/ });
  t.deepEqual(parseAcl(Buffer.from([2, 0, 0, 0])), []);
});

test('modeString and aclEntryText write what ls -l and getfacl write', (t) => {
  t.is(modeString(0o140660), 'srw-rw----');
  t.is(modeString(0o041777), 'drwxrwxrwt');
  t.is(modeString(0o042750, true), 'drwxr-s---+');
  t.is(modeString(0o120777), 'lrwxrwxrwx');
  t.is(aclEntryText({ tag: ACL_USER, perm: 6, id: 65534 }, names), 'user:nobody:rw-');
  t.is(aclEntryText({ tag: ACL_GROUP_OBJ, perm: 5, id: null }, names), 'group::r-x');
  t.is(aclEntryText({ tag: ACL_MASK, perm: 4, id: null }, names), 'mask::r--');
});

test('owner-only socket (0600): the owner and root may connect, the group and others may not', (t) => {
  const steps = walk(dir('/run/app', 100, 100, 0o755), sock('/run/app/app.sock', 100, 100, 0o600));
  t.true(evaluate(steps, app, names).allowed);
  t.regex(evaluate(steps, app, names).reason, /grants write to its owner app/);
  t.true(evaluate(steps, root, names).allowed);
  t.regex(evaluate(steps, root, names).reason, /CAP_DAC_OVERRIDE/);
  const member = evaluate(steps, { uid: NO_ID, gids: [100] }, names);
  t.false(member.allowed);
  t.is(member.reason, '/run/app/app.sock (srw------- app app) has no write permission for the group app');
  t.is(member.stoppedAt, 3);
  t.false(evaluate(steps, nobody, names).allowed);
});

test('a supplementary group counts as much as the primary group', (t) => {
  const steps = walk(dir('/run/app', 0, 0, 0o755), sock('/run/app/app.sock', 100, 50, 0o660));
  const v = evaluate(steps, alice, names);
  t.true(v.allowed);
  t.regex(v.reason, /grants write to the group staff/);
  t.false(evaluate(steps, { uid: 200, gids: [200] }, names).allowed);
});

test('a directory without search permission stops others, with the reason the contract shows', (t) => {
  const steps = walk(dir('/run/app', 100, 100, 0o700), sock('/run/app/app.sock', 100, 100, 0o666));
  const v = evaluate(steps, nobody, names);
  t.false(v.allowed);
  t.is(v.reason, '/run/app (drwx------ app app) has no search permission for others');
  t.is(v.stoppedAt, 2);
  t.true(evaluate(steps, app, names).allowed);
  t.true(evaluate(steps, root, names).allowed, 'root passes a directory without x');
});

test('write alone on the socket is enough; read alone is not', (t) => {
  const onlyWrite = walk(dir('/run/app', 0, 0, 0o711), sock('/run/app/app.sock', 0, 0, 0o602));
  t.true(evaluate(onlyWrite, nobody, names).allowed);
  const onlyRead = walk(dir('/run/app', 0, 0, 0o711), sock('/run/app/app.sock', 0, 0, 0o644));
  t.false(evaluate(onlyRead, nobody, names).allowed);
});

test('the owner gets the owner bits even when the group or others would get more', (t) => {
  const steps = walk(dir('/run/app', 0, 0, 0o755), sock('/run/app/app.sock', 100, 100, 0o466));
  t.false(evaluate(steps, app, names).allowed);
  t.regex(evaluate(steps, app, names).reason, /no write permission for its owner app/);
  t.true(evaluate(steps, nobody, names).allowed);
});

test('an ACL entry grants a named user write (masked by the mask)', (t) => {
  const a = acl([ACL_USER_OBJ, 6], [ACL_USER, 6, 65534], [ACL_GROUP_OBJ, 0], [ACL_MASK, 6], [ACL_OTHER, 0]);
  const steps = walk(dir('/run/app', 0, 0, 0o755), sock('/run/app/app.sock', 0, 0, 0o660, a));
  const v = evaluate(steps, nobody, names);
  t.true(v.allowed);
  t.is(v.reason, '/run/app/app.sock (srw-rw----+ root root) grants write to user nobody (ACL entry user:nobody:rw-)');
  t.false(evaluate(steps, { uid: 2, gids: [2] }, names).allowed);

  const limited = acl([ACL_USER_OBJ, 6], [ACL_USER, 6, 65534], [ACL_GROUP_OBJ, 0], [ACL_MASK, 4], [ACL_OTHER, 6]);
  const masked = walk(dir('/run/app', 0, 0, 0o755), sock('/run/app/app.sock', 0, 0, 0o646, limited));
  const m = evaluate(masked, nobody, names);
  t.false(m.allowed, 'the mask takes write away, and a named user never falls through to other');
  t.is(
    m.reason,
    '/run/app/app.sock (srw-r--rw-+ root root) has no write permission for user nobody (ACL entry user:nobody:rw-, limited by the mask r--)',
  );
  t.true(evaluate(masked, { uid: 2, gids: [2] }, names).allowed, 'others keep their bits: other is not masked');
});

test('group entries: any matching entry that grants grants; matching ones that do not deny, whatever other says', (t) => {
  const a = acl([ACL_USER_OBJ, 6], [ACL_GROUP_OBJ, 4], [ACL_GROUP, 2, 50], [ACL_MASK, 6], [ACL_OTHER, 2]);
  const steps = walk(dir('/run/app', 0, 0, 0o755), sock('/run/app/app.sock', 0, 100, 0o662, a));
  const both = evaluate(steps, { uid: 300, gids: [100, 50] }, names);
  t.true(both.allowed);
  t.regex(both.reason, /the groups app, staff \(ACL entries group::r--, group:staff:-w-, mask rw-\)/);
  const owningOnly = evaluate(steps, { uid: 300, gids: [100] }, names);
  t.false(owningOnly.allowed, 'in the owning group (r--): denied although other has w');
  t.regex(owningOnly.reason, /no write permission for the group app \(ACL entry group::r--, mask rw-\)/);
  t.true(evaluate(steps, { uid: 300, gids: [7] }, names).allowed, 'in no named group: other');
  t.deepEqual(checkStep(steps[3], { uid: 300, gids: [50] }, MAY_WRITE).by, 'group');
});

test('a directory ACL can grant search to a named user', (t) => {
  const a = acl([ACL_USER_OBJ, 7], [ACL_USER, 1, 2], [ACL_GROUP_OBJ, 0], [ACL_MASK, 1], [ACL_OTHER, 0]);
  const steps = walk(dir('/run/app', 0, 0, 0o710, a), sock('/run/app/app.sock', 0, 0, 0o666));
  t.true(evaluate(steps, { uid: 2, gids: [2] }, names).allowed);
  const v = evaluate(steps, nobody, names);
  t.false(v.allowed);
  t.is(v.reason, '/run/app (drwx--x---+ root root) has no search permission for others');
  t.true(checkStep(steps[2], { uid: 2, gids: [2] }, MAY_EXEC).granted);
});

test('an empty mask makes the kernel skip the ACL: named entries count as nothing, other decides', (t) => {
  const a = acl([ACL_USER_OBJ, 6], [ACL_USER, 6, 65534], [ACL_GROUP_OBJ, 0], [ACL_MASK, 0], [ACL_OTHER, 6]);
  const steps = walk(dir('/run/app', 0, 0, 0o755), sock('/run/app/app.sock', 0, 0, 0o606, a));
  const v = evaluate(steps, nobody, names);
  t.true(v.allowed, 'acl(5) alone would deny (the entry masked to ---); Linux lets other decide');
  t.regex(v.reason, /grants write to others; the ACL's mask is empty/);
  const noOther = walk(
    dir('/run/app', 0, 0, 0o755),
    sock(
      '/run/app/app.sock',
      0,
      0,
      0o600,
      a.map((e) => (e.tag === ACL_OTHER ? { ...e, perm: 0 } : e)),
    ),
  );
  t.false(evaluate(noOther, nobody, names).allowed);
});

test('symbolic links on the way are never checked', (t) => {
  /** @type {import('../../../src/net/permissions.ts').PathStep} */
  const link = { path: '/run/link', kind: 'symlink', uid: 100, gid: 100, mode: 0o120000, acl: null, target: 'app' };
  const steps = [
    dir('/', 0, 0, 0o755),
    dir('/run', 0, 0, 0o755),
    link,
    dir('/run/app', 0, 0, 0o755),
    sock('/run/app/app.sock', 0, 0, 0o666),
  ];
  t.true(evaluate(steps, nobody, names).allowed);
});

test('outcomeDiffers: a permission refusal against an allowed prediction, or a denied one that got through', (t) => {
  t.false(outcomeDiffers(true, 'connected'));
  t.false(outcomeDiffers(true, 'ECONNREFUSED'), 'refused by a missing listener: permission passed');
  t.false(outcomeDiffers(false, 'EACCES'));
  t.true(outcomeDiffers(true, 'EPERM'), 'an LSM (Landlock, AppArmor) refused what DAC allows');
  t.true(outcomeDiffers(true, 'EACCES'));
  t.true(outcomeDiffers(false, 'connected'));
  t.true(outcomeDiffers(false, 'EPROTOTYPE'));
  t.false(outcomeDiffers(false, 'ENOENT'), 'the socket gone says nothing about permissions');
  t.false(outcomeDiffers(true, 'exit 1'));
});
