// usock who-can: predictions on real sockets, directories, groups and ACLs, each checked against a real `usock connect -z --as USER`; abstract addresses, a missing component, --json, TSV, --try (and a real difference, under Landlock).
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  abstractName,
  assertCleanError,
  IS_ROOT,
  NOBODY_UID,
  py,
  python,
  rootTest,
  runUsock,
  show,
  SYSTEM_PYTHON,
  tmpDir,
  USOCK,
} from '../helpers.mjs';

const HAS_SETFACL = !spawnSync('setfacl', ['--version']).error;

/** Starts a stream server at address (a path or @name) that accepts and closes every connection; resolves once it listens. */
async function serve(t, address) {
  const srv = python(
    py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(addr(sys.argv[1]))
srv.listen(64)
print('ready', flush=True)
while True:
    c, _ = srv.accept()
    c.close()
`),
    [address],
    { t, python: SYSTEM_PYTHON },
  );
  await srv.waitStdout('ready');
  return srv;
}

/** Returns a fresh directory every user may search (mkdtemp makes 0700), with a listening socket `s` of the given mode, owner and group. */
async function socketIn(t, { mode = 0o600, uid = 0, gid = 0, dirMode = 0o755 } = {}) {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o755);
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  const sock = path.join(app, 's');
  await serve(t, sock);
  fs.chmodSync(sock, mode);
  fs.chownSync(sock, uid, gid);
  fs.chmodSync(app, dirMode);
  return { dir, app, sock };
}

/** Returns the id of a user or group from the database (getent), or null. */
function idOf(db, name) {
  const r = spawnSync('getent', [db, name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split(':')[2]) : null;
}

/** Returns the rows of who-can's tab-separated output: one array of fields per line. */
function rows(stdout) {
  return stdout
    .toString()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

/** Runs who-can --user for each of users and checks every verdict against a real connect -z --as; returns the rows by name. */
async function predictAndCheck(t, sock, users) {
  const r = await runUsock(['who-can', ...users.flatMap((u) => ['--user', u]), sock], { t });
  const byName = new Map(rows(r.stdout).map((f) => [f[0], f]));
  t.deepEqual([...byName.keys()], users, show(r));
  for (const u of users) {
    const real = await runUsock(['connect', '-z', '--as', u, sock], { t });
    t.true(real.code === 0 || real.code === 77, `connect -z --as ${u}: ${show(real)}`);
    t.is(
      byName.get(u)[2],
      real.code === 0 ? 'allowed' : 'denied',
      `who-can said ${byName.get(u).join(' | ')}; connect --as ${u} exited ${real.code}`,
    );
  }
  t.is(r.code, [...byName.values()].every((f) => f[2] === 'allowed') ? 0 : 77, show(r));
  return { result: r, byName };
}

/** Returns a user whose supplementary groups (from the database) hold a group other than its primary one: { name, group }, or null. */
function userWithSupplementaryGroup() {
  const passwd = spawnSync('getent', ['passwd'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const line of passwd) {
    const [name, , uid, gid] = line.split(':');
    if (Number(uid) === 0) continue;
    const ids = spawnSync('id', ['-G', name], { encoding: 'utf8' }).stdout.trim().split(/\s+/).map(Number);
    const extra = ids.find((g) => g !== Number(gid) && g !== 0);
    if (extra !== undefined) return { name, gid: extra };
  }
  return null;
}

rootTest('owner-only socket (0600): the owner may connect, others may not; --user exits 77 when one cannot', async (t) => {
  const { sock } = await socketIn(t, { mode: 0o600, uid: 1, gid: 1 });
  const { result, byName } = await predictAndCheck(t, sock, ['daemon', 'bin', 'nobody', 'root']);
  t.is(result.code, 77);
  t.deepEqual(byName.get('daemon').slice(0, 3), ['daemon', '1', 'allowed']);
  t.is(byName.get('bin')[3], `${sock} (srw------- daemon daemon) has no write permission for others`);
  t.regex(byName.get('root')[3], /CAP_DAC_OVERRIDE/);
  const ok = await runUsock(['who-can', '--user', 'daemon', '--user', 'root', sock], { t });
  t.is(ok.code, 0, show(ok));
});

rootTest('group socket (0660): a user in the group through a supplementary group may connect', async (t) => {
  const member = userWithSupplementaryGroup();
  if (!member) {
    t.log('no user in the database has a supplementary group: nothing to check');
    return t.pass();
  }
  const { sock } = await socketIn(t, { mode: 0o660, uid: 0, gid: member.gid });
  const { byName } = await predictAndCheck(t, sock, [member.name, 'nobody']);
  t.is(byName.get(member.name)[2], 'allowed');
  t.regex(byName.get(member.name)[3], /grants write to the group /);
});

rootTest('a directory without search permission for others stops them; the default report marks it', async (t) => {
  const { app, sock } = await socketIn(t, { mode: 0o666, dirMode: 0o750 });
  fs.chownSync(app, 0, 1); // group daemon may search it
  const { byName } = await predictAndCheck(t, sock, ['daemon', 'nobody', 'bin']);
  t.is(byName.get('nobody')[3], `${app} (drwxr-x--- root daemon) has no search permission for others`);
  t.is(byName.get('daemon')[2], 'allowed');

  const r = await runUsock(['who-can', sock], { t });
  t.is(r.code, 0, show(r));
  const lines = rows(r.stdout);
  const walk = lines.filter((f) => f[0] === 'path');
  t.deepEqual(
    walk.map((f) => f[1]),
    [
      '/',
      ...path
        .dirname(app)
        .split('/')
        .filter(Boolean)
        .map((_, i, a) => '/' + a.slice(0, i + 1).join('/')),
      app,
      sock,
    ],
  );
  const appLine = walk.find((f) => f[1] === app);
  t.deepEqual(appLine.slice(2, 5), ['drwxr-x---', 'root', 'daemon']);
  t.regex(appLine[6], /^stops .*others/);
  t.is(walk.find((f) => f[1] === sock)[6], '-');
  const who = lines.filter((f) => f[0] === 'who');
  t.deepEqual(
    who.map((f) => f[1]),
    ['superuser', 'group root', 'others'],
  );
  const others = who.find((f) => f[1] === 'others');
  t.is(others[2], 'denied');
  t.true(others[3].split(', ').includes('nobody'), others[3]);
  t.true(others[3].split(', ').includes('daemon (allowed)'), `daemon gets through as a member of the directory's group: ${others[3]}`);
});

rootTest('an ACL entry grants a named user; the ACL mask limits it', async (t) => {
  if (!HAS_SETFACL) return t.pass('setfacl is not installed');
  const { sock } = await socketIn(t, { mode: 0o600 });
  t.is(spawnSync('setfacl', ['-m', 'u:nobody:rw', sock]).status, 0);
  const granted = await predictAndCheck(t, sock, ['nobody', 'bin']);
  t.is(granted.byName.get('nobody')[2], 'allowed');
  t.is(granted.byName.get('nobody')[3], `${sock} (srw-rw----+ root root) grants write to user nobody (ACL entry user:nobody:rw-)`);

  t.is(spawnSync('setfacl', ['-m', 'm::r', sock]).status, 0);
  const masked = await predictAndCheck(t, sock, ['nobody', 'bin']);
  t.is(
    masked.byName.get('nobody')[3],
    `${sock} (srw-r-----+ root root) has no write permission for user nobody (ACL entry user:nobody:rw-, limited by the mask r--)`,
  );

  // An empty mask: Linux skips the ACL (named entries count as nothing) and the other bits decide.
  fs.chmodSync(sock, 0o606);
  t.is(spawnSync('setfacl', ['-m', 'm::-', sock]).status, 0);
  const empty = await predictAndCheck(t, sock, ['nobody', 'bin']);
  t.is(empty.byName.get('nobody')[2], 'allowed');
  t.regex(empty.byName.get('nobody')[3], /the ACL's mask is empty/);
});

rootTest('a directory ACL granting search to one user lets that user through', async (t) => {
  if (!HAS_SETFACL) return t.pass('setfacl is not installed');
  const { app, sock } = await socketIn(t, { mode: 0o666, dirMode: 0o700 });
  t.is(spawnSync('setfacl', ['-m', 'u:bin:x', app]).status, 0);
  const { byName } = await predictAndCheck(t, sock, ['bin', 'nobody', 'daemon']);
  t.is(byName.get('bin')[2], 'allowed');
  t.is(byName.get('nobody')[3], `${app} (drwx--x---+ root root) has no search permission for others`);
  const r = await runUsock(['who-can', sock], { t });
  const appLine = rows(r.stdout).find((f) => f[0] === 'path' && f[1] === app);
  t.is(appLine[5], 'user::rwx,user:bin:--x,group::---,mask::--x,other::---');
});

rootTest('--group: a member of the group, with gid in the second column', async (t) => {
  const { sock } = await socketIn(t, { mode: 0o620, gid: 1 });
  const r = await runUsock(['who-can', '--group', 'daemon', '--group', 'bin', sock], { t });
  t.is(r.code, 77, show(r));
  t.deepEqual(
    rows(r.stdout).map((f) => f.slice(0, 3)),
    [
      ['daemon', '1', 'allowed'],
      ['bin', String(idOf('group', 'bin')), 'denied'],
    ],
  );
});

rootTest('--json: one object per user or group with name, uid or gid, allowed, reason; --try adds tried and outcome', async (t) => {
  const { sock } = await socketIn(t, { mode: 0o600, uid: 1, gid: 1 });
  const r = await runUsock(['who-can', '--json', '--user', 'daemon', '--user', 'nobody', '--group', 'daemon', sock], { t });
  t.is(r.code, 77, show(r));
  const objs = r.stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    objs.map((o) => Object.keys(o)),
    [
      ['name', 'uid', 'allowed', 'reason'],
      ['name', 'uid', 'allowed', 'reason'],
      ['name', 'gid', 'allowed', 'reason'],
    ],
  );
  t.deepEqual(
    objs.map((o) => [o.name, o.uid ?? o.gid, o.allowed]),
    [
      ['daemon', 1, true],
      ['nobody', NOBODY_UID, false],
      ['daemon', 1, false],
    ],
  );

  const tried = await runUsock(['who-can', '--json', '--try', '--user', 'daemon', '--user', 'nobody', '--group', 'daemon', sock], { t });
  t.is(tried.code, 77, show(tried));
  const lines = tried.stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.like(lines[0], { name: 'daemon', allowed: true, tried: true, outcome: 'connected', differs: false });
  t.like(lines[1], { name: 'nobody', allowed: false, tried: true, outcome: 'EACCES', differs: false });
  t.like(lines[2], { name: 'daemon', gid: 1, tried: false, outcome: null });
});

rootTest('default --json: one object per user of the database', async (t) => {
  const { sock } = await socketIn(t, { mode: 0o600, uid: 1, gid: 1 });
  const r = await runUsock(['who-can', '--json', sock], { t });
  t.is(r.code, 0, show(r));
  const objs = r.stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const names = [
    ...new Set(
      spawnSync('getent', ['passwd'], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean)
        .map((l) => l.split(':')[0]),
    ),
  ];
  t.deepEqual(
    objs.map((o) => o.name),
    names,
  );
  t.deepEqual(
    objs
      .filter((o) => o.allowed)
      .map((o) => o.name)
      .sort(),
    ['daemon', 'root'],
  );
});

rootTest('--try: outcomes that agree with the prediction are not flagged (TSV: outcome and agrees)', async (t) => {
  const { sock } = await socketIn(t, { mode: 0o600, uid: 1, gid: 1 });
  const r = await runUsock(['who-can', '--try', '--user', 'daemon', '--user', 'nobody', sock], { t });
  t.is(r.code, 77, show(r));
  t.deepEqual(
    rows(r.stdout).map((f) => [f[0], f[2], f[4], f[5]]),
    [
      ['daemon', 'allowed', 'connected', 'agrees'],
      ['nobody', 'denied', 'EACCES', 'agrees'],
    ],
  );
  t.is(rows(r.stdout)[0].length, 6);
});

/** Python that confines itself with Landlock (abstract unix sockets scoped, ABI 6) and runs argv[1:]; exits 3 where Landlock cannot. */
const LANDLOCK = `
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
attr = ctypes.create_string_buffer(struct.pack('QQQ', 0, 0, 1), 24)
fd = libc.syscall(444, attr, ctypes.c_size_t(24), 0)
if fd < 0 or libc.prctl(38, 1, 0, 0, 0) != 0 or libc.syscall(446, fd, 0) != 0:
    sys.exit(3)
os.execv(sys.argv[1], sys.argv[1:])
`;

rootTest('--try flags a real difference: Landlock refuses an abstract socket that has no permissions', async (t) => {
  const name = '@' + abstractName();
  await serve(t, name);
  const plain = await runUsock(['who-can', '--try', '--user', 'nobody', name], { t });
  t.is(plain.code, 0, show(plain));
  t.deepEqual(rows(plain.stdout)[0].slice(2), [
    'allowed',
    'an abstract address has no permissions: anyone in the network namespace can connect',
    'connected',
    'agrees',
  ]);
  const confined = python(LANDLOCK, [process.execPath, USOCK, 'who-can', '--try', '--user', 'nobody', name], { t, python: SYSTEM_PYTHON });
  confined.end();
  const r = await confined.exited;
  if (r.code === 3) {
    t.log('Landlock scoping of abstract sockets is not available here: no real difference to make');
    return t.pass();
  }
  t.is(r.code, 77, show(r));
  t.deepEqual(rows(r.stdout)[0].slice(2), [
    'allowed',
    'an abstract address has no permissions: anyone in the network namespace can connect',
    'EPERM',
    'DIFFERS',
  ]);
});

test('an abstract address: anyone in the network namespace can connect (0)', async (t) => {
  const name = '@' + abstractName();
  const r = await runUsock(['who-can', name], { t });
  t.is(r.code, 0, show(r));
  t.deepEqual(rows(r.stdout), [
    ['who', 'anyone', 'allowed', '-', 'an abstract address has no permissions: anyone in the network namespace can connect'],
  ]);
  const u = await runUsock(['who-can', '--user', 'nobody', name], { t });
  t.is(u.code, 0, show(u));
  t.deepEqual(rows(u.stdout)[0].slice(0, 3), ['nobody', String(NOBODY_UID), 'allowed']);
});

test('a missing component: 66, the first one that does not exist named in one line', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'x', 'y', 'app.sock');
  const r = await runUsock(['who-can', target], { t });
  t.is(r.code, 66, show(r));
  assertCleanError(t, r.stderr);
  t.is(r.stderr.toString(), `usock: who-can ${target}: ${path.join(dir, 'x')} does not exist\n`);
  fs.writeFileSync(path.join(dir, 'f'), '');
  const notSocket = await runUsock(['who-can', path.join(dir, 'f')], { t });
  t.is(notSocket.code, 66, show(notSocket));
  t.regex(notSocket.stderr.toString(), /is not a socket \(regular file\)/);
});

test('usage errors (64): an unknown user or group, --try without --user', async (t) => {
  const name = '@' + abstractName();
  for (const args of [['--user', 'no-such-user-usock'], ['--group', 'no-such-group-usock'], ['--try'], ['--try', '--group', 'root']]) {
    const r = await runUsock(['who-can', ...args, name], { t });
    t.is(r.code, 64, `${args.join(' ')}: ${show(r)}`);
    assertCleanError(t, r.stderr);
  }
});

rootTest('--try as another user than root: 77 and one line', async (t) => {
  const name = '@' + abstractName();
  const r = await runUsock(['who-can', '--try', '--user', 'nobody', name], {
    t,
    uid: NOBODY_UID,
    gid: idOf('group', 'nogroup') ?? NOBODY_UID,
  });
  t.is(r.code, 77, show(r));
  assertCleanError(t, r.stderr, /--try needs root/);
});

test('who-can runs without root: verdicts of the current user on its own socket', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  await serve(t, sock);
  fs.chmodSync(sock, 0o600);
  const me = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
  const r = await runUsock(['who-can', '--user', me, sock], { t });
  t.is(r.code, 0, show(r));
  t.is(rows(r.stdout)[0][2], 'allowed');
  t.true(IS_ROOT || rows(r.stdout)[0][3].includes('its owner'));
});
