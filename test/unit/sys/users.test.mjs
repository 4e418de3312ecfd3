// Unit tests of src/sys/users.ts against the system's own databases (getent, id): users and groups by name and id,
// missing entries, every user once, a user's groups; becomeUser drops a child process to nobody for good.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allUsers, groupById, groupByName, groupsOf, userById, userByName } from '../../../src/sys/users.ts';
import { NOBODY_GID, NOBODY_UID, rootTest, tmpDir } from '../../helpers.mjs';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const USERS = fileURLToPath(new URL('../../../src/sys/users.ts', import.meta.url));

/** Returns the lines of `getent DATABASE [KEYS]`, split at ':' ([] when there is no such entry). */
function getent(...args) {
  const r = spawnSync('getent', args, { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(':'));
}

test('userByName and userById give what getent passwd gives', (t) => {
  for (const name of ['root', 'nobody']) {
    const [[, , uid, gid]] = getent('passwd', name);
    const entry = { name, uid: Number(uid), gid: Number(gid) };
    t.deepEqual(userByName(name), entry);
    t.deepEqual(userById(Number(uid)), entry);
  }
});

test('groupByName and groupById give what getent group gives', (t) => {
  for (const gid of [0, NOBODY_GID]) {
    const [[name]] = getent('group', String(gid));
    t.deepEqual(groupById(gid), { name, gid });
    t.deepEqual(groupByName(name), { name, gid });
  }
});

test('a user or group that does not exist is null, not an error', (t) => {
  t.is(userByName('no-such-user-usock'), null);
  t.is(userById(3_999_999_999), null);
  t.is(groupByName('no-such-group-usock'), null);
  t.is(groupById(3_999_999_999), null);
});

test('allUsers lists every user of getent passwd, in its order, each name once', (t) => {
  const expected = [...new Set(getent('passwd').map(([name]) => name))];
  t.deepEqual(
    allUsers().map((u) => u.name),
    expected,
  );
  t.deepEqual(
    allUsers().find((u) => u.name === 'nobody'),
    { name: 'nobody', uid: NOBODY_UID, gid: NOBODY_GID },
  );
});

test('groupsOf gives the groups id -G gives', (t) => {
  for (const name of ['root', 'nobody']) {
    const user = /** @type {import('../../../src/sys/users.ts').UserEntry} */ (userByName(name));
    const expected = spawnSync('id', ['-G', name], { encoding: 'utf8' }).stdout.trim().split(/\s+/).map(Number);
    t.deepEqual(
      groupsOf(name, user.gid).sort((a, b) => a - b),
      expected.sort((a, b) => a - b),
    );
  }
});

rootTest('becomeUser drops the process to the user, its gid and its groups, for good', (t) => {
  const script = path.join(tmpDir(t), 'become.mjs');
  fs.writeFileSync(
    script,
    `import { becomeUser } from ${JSON.stringify(USERS)};
becomeUser('nobody', ${NOBODY_UID}, ${NOBODY_GID});
let back;
try {
  becomeUser('root', 0, 0);
  back = 'regained root';
} catch (err) {
  back = { name: err.name, syscall: err.syscall, code: err.code, path: err.path };
}
console.log(JSON.stringify({ uid: process.getuid(), euid: process.geteuid(), gid: process.getgid(), groups: process.getgroups(), back }));`,
  );
  const r = spawnSync(process.execPath, ['--import=tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), {
    uid: NOBODY_UID,
    euid: NOBODY_UID,
    gid: NOBODY_GID,
    groups: [NOBODY_GID],
    back: { name: 'SysError', syscall: 'initgroups', code: 'EPERM', path: 'root' },
  });
});
