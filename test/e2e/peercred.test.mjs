// End-to-end tests of `usock peercred`: the listening process's credentials (stream, seqpacket, dgram through /proc),
// --listen records per client (SO_PEERCRED) and per datagram (SCM_CREDENTIALS), text, JSON and TTY table output.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  usock,
  runUsock,
  python,
  runPython,
  py,
  tmpDir,
  abstractName,
  waitListening,
  assertCleanError,
  endedBy,
  show,
  hasCommand,
  SYSTEM_PYTHON,
  NOBODY_UID,
  USOCK,
  rootTest,
} from '../helpers.mjs';

const NOBODY_GID = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());
const NOBODY_GROUP = execFileSync('id', ['-gn', 'nobody']).toString().trim();
const KEYS = ['pid', 'uid', 'gid', 'user', 'group', 'groups', 'label', 'exe', 'cgroup', 'command', 'source'];

// A server of type argv[2] bound at argv[1] (listening unless dgram) that prints its pid, then waits for stdin EOF.
// With argv[3] = 'nobody' it drops to uid/gid nobody with supplementary groups argv[4] (comma-separated) first.
const SERVER = py(`
types = {'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET, 'dgram': socket.SOCK_DGRAM}
if len(sys.argv) > 3 and sys.argv[3] == 'nobody':
    os.setgroups([int(g) for g in sys.argv[4].split(',') if g])
    os.setgid(${NOBODY_GID})
    os.setuid(${NOBODY_UID})
srv = socket.socket(socket.AF_UNIX, types[sys.argv[2]])
srv.bind(addr(sys.argv[1]))
if sys.argv[2] != 'dgram':
    srv.listen(8)
print(os.getpid(), flush=True)
sys.stdin.read()
`);

/**
 * Starts SERVER and returns [handle, pid].
 * @returns {Promise<[ReturnType<typeof python>, number]>}
 */
async function startServer(t, address, type, ...extra) {
  const srv = python(SERVER, [address, type, ...extra], { t, python: SYSTEM_PYTHON, cwd: '/' });
  const pid = Number((await srv.waitStdout('\n')).trim());
  return [srv, pid];
}

/** Parses `key<TAB>value` lines into an object. */
function parseKeyValueLines(text) {
  const out = {};
  for (const line of text.split('\n').filter(Boolean)) {
    const tab = line.indexOf('\t');
    out[line.slice(0, tab)] = line.slice(tab + 1);
  }
  return out;
}

/** Parses one `key=value<TAB>key=value...` record line. */
function parseRecordLine(line) {
  const out = {};
  for (const field of line.split('\t')) {
    const eq = field.indexOf('=');
    out[field.slice(0, eq)] = field.slice(eq + 1);
  }
  return out;
}

// ---- client side ----------------------------------------------------------------------------------------------

rootTest("peercred PATH: key<TAB>value lines with the listening process's pid, uid, gid, names, exe, command", async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const [srv, pid] = await startServer(t, sock, 'stream');
  const r = await runUsock(['peercred', sock], { t });
  t.is(r.code, 0, show(r));
  t.is(r.stderr.toString(), '');
  const lines = r.stdout.toString().split('\n').filter(Boolean);
  t.deepEqual(
    lines.map((l) => l.split('\t')[0]),
    KEYS,
    'one line per key, in order, even though the command has newlines',
  );
  const rec = parseKeyValueLines(r.stdout.toString());
  t.is(rec.pid, String(pid));
  t.is(rec.uid, '0');
  t.is(rec.gid, '0');
  t.is(rec.user, 'root');
  t.is(rec.group, 'root');
  t.is(rec.exe, fs.realpathSync(SYSTEM_PYTHON));
  t.true(rec.command.startsWith(`${SYSTEM_PYTHON} -u -c \\nimport socket`), rec.command);
  t.is(rec.source, 'SO_PEERCRED');
  t.regex(rec.cgroup, /\//);
  srv.end();
  await srv.exited;
});

rootTest('peercred --json: one object with pid, uid, gid, user, group, command, groups, label, exe, cgroup', async (t) => {
  const name = '@' + abstractName();
  const [srv, pid] = await startServer(t, name, 'stream');
  const r = await runUsock(['peercred', '--json', name], { t });
  t.is(r.code, 0, show(r));
  const lines = r.stdout.toString().split('\n').filter(Boolean);
  t.is(lines.length, 1);
  const rec = JSON.parse(lines[0]);
  t.deepEqual(Object.keys(rec), KEYS);
  t.like(rec, { pid, uid: 0, gid: 0, user: 'root', group: 'root', exe: fs.realpathSync(SYSTEM_PYTHON), source: 'SO_PEERCRED' });
  t.true(Array.isArray(rec.groups));
  t.true(rec.label === null || typeof rec.label === 'string');
  t.true(rec.command.includes('import socket'));
  srv.end();
});

rootTest('peercred: a server running as nobody with supplementary groups shows uid, gid, names and groups', async (t) => {
  const name = '@' + abstractName();
  const [srv, pid] = await startServer(t, name, 'stream', 'nobody', '1,2');
  const r = await runUsock(['peercred', '--json', name], { t });
  t.is(r.code, 0, show(r));
  const rec = JSON.parse(r.stdout.toString());
  t.like(rec, { pid, uid: NOBODY_UID, gid: NOBODY_GID, user: 'nobody', group: NOBODY_GROUP, groups: [1, 2] });
  srv.end();
});

test('peercred -t seqpacket', async (t) => {
  const name = '@' + abstractName();
  const [srv, pid] = await startServer(t, name, 'seqpacket');
  const r = await runUsock(['peercred', '-t', 'seqpacket', '--json', name], { t });
  t.is(r.code, 0, show(r));
  t.is(JSON.parse(r.stdout.toString()).pid, pid);
  srv.end();
});

rootTest('peercred -t dgram: Linux gives no SO_PEERCRED for a datagram connect, so the holder is found through /proc', async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o777);
  const sock = path.join(dir, 'd');
  const [srv, pid] = await startServer(t, sock, 'dgram', 'nobody', '');
  // What the kernel says: pid 0, uid and gid -1.
  const k = await runPython(
    py(`
import struct
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(sys.argv[1])
print(struct.unpack('iII', s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)))
`),
    [sock],
    { t },
  );
  t.is(k.stdout.toString().trim(), '(0, 4294967295, 4294967295)');
  const r = await runUsock(['peercred', '-t', 'dgram', '--json', sock], { t });
  t.is(r.code, 0, show(r));
  t.like(JSON.parse(r.stdout.toString()), { pid, uid: NOBODY_UID, gid: NOBODY_GID, user: 'nobody', source: 'proc', groups: [] });
  srv.end();
});

test("peercred: errors are one line with the contract's codes (missing 69, wrong type, -t auto 64, no address 64)", async (t) => {
  const dir = tmpDir(t);
  const missing = await runUsock(['peercred', path.join(dir, 'nothing')], { t });
  t.is(missing.code, 69, show(missing));
  assertCleanError(t, missing.stderr, /ENOENT/);

  const name = '@' + abstractName();
  const [srv] = await startServer(t, name, 'dgram');
  const wrong = await runUsock(['peercred', name], { t });
  t.not(wrong.code, 0);
  assertCleanError(t, wrong.stderr, /EPROTOTYPE|ECONNREFUSED/);
  srv.end();

  const auto = await runUsock(['peercred', '-t', 'auto', name], { t });
  t.is(auto.code, 64, show(auto));
  assertCleanError(t, auto.stderr, /--type auto/);

  const none = await runUsock(['peercred'], { t });
  t.is(none.code, 64, show(none));
  assertCleanError(t, none.stderr);
});

test('peercred: a table on a TTY, keys coloured unless NO_COLOR', async (t) => {
  if (!hasCommand('script')) {
    t.log('script(1) is not installed: TTY output not checked');
    t.pass();
    return;
  }
  const name = '@' + abstractName();
  const [srv, pid] = await startServer(t, name, 'stream');
  const run = (env) =>
    spawnSync('script', ['-qec', `${process.execPath} ${USOCK} peercred ${name}`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, TERM: 'xterm-256color', COLUMNS: '100', ...env },
      timeout: 30_000,
    });
  const plain = run({ NO_COLOR: '1', FORCE_COLOR: '' });
  t.is(plain.status, 0, plain.stderr);
  t.regex(plain.stdout, /┌/);
  t.regex(plain.stdout, new RegExp(`│ pid\\s+│ ${pid}\\s+│`));
  t.false(plain.stdout.includes('\x1b['), 'NO_COLOR: no escapes');
  const env = { ...process.env };
  delete env.NO_COLOR;
  const coloured = spawnSync('script', ['-qec', `${process.execPath} ${USOCK} peercred ${name}`, '/dev/null'], {
    encoding: 'utf8',
    env: { ...env, TERM: 'xterm-256color', FORCE_COLOR: '1' },
    timeout: 30_000,
  });
  t.is(coloured.status, 0, coloured.stderr);
  t.true(coloured.stdout.includes('\x1b['), 'colour on a TTY');
  srv.end();
});

// ---- --listen -------------------------------------------------------------------------------------------------

// A client of type argv[2]: connects (retrying), prints its pid, waits until the server closes.
const CLIENT = py(`
types = {'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET}
s = connect_retry(types[sys.argv[2]], sys.argv[1])
print(os.getpid(), flush=True)
try:
    s.recv(10)
except ConnectionResetError:
    pass
`);

/** Runs CLIENT (as nobody when asNobody); returns its pid. */
async function connectOnce(t, address, type, asNobody = false) {
  const opts = asNobody ? { t, python: SYSTEM_PYTHON, uid: NOBODY_UID, gid: NOBODY_GID, cwd: '/' } : { t };
  const r = await runPython(CLIENT, [address, type], opts);
  t.is(r.code, 0, show(r));
  return Number(r.stdout.toString().trim());
}

for (const type of ['stream', 'seqpacket']) {
  rootTest(`peercred --listen -t ${type}: one key=value line per client, until a signal`, async (t) => {
    const dir = tmpDir(t);
    fs.chmodSync(dir, 0o777);
    const sock = path.join(dir, 's');
    const srv = usock(['peercred', '--listen', '-t', type, '--mode', '0666', sock], { t });
    await waitListening(sock, type);
    const rootPid = await connectOnce(t, sock, type);
    const nobodyPid = await connectOnce(t, sock, type, true);
    await srv.waitStdout((s) => s.split('\n').length >= 3);
    srv.kill('SIGTERM');
    const r = await srv.exited;
    t.true(endedBy(r, 'SIGTERM'), show(r));
    const lines = r.stdout.toString().split('\n').filter(Boolean);
    t.is(lines.length, 2);
    const [a, b] = lines.map(parseRecordLine);
    t.deepEqual(Object.keys(a), KEYS);
    t.like(a, { pid: String(rootPid), uid: '0', gid: '0', user: 'root', source: 'SO_PEERCRED' });
    t.like(b, { pid: String(nobodyPid), uid: String(NOBODY_UID), gid: String(NOBODY_GID), user: 'nobody', group: NOBODY_GROUP });
    t.true(b.command.includes('connect_retry'));
    t.false(fs.existsSync(sock));
  });
}

rootTest('peercred --listen --json: one object per client', async (t) => {
  const name = '@' + abstractName();
  const srv = usock(['peercred', '--listen', '--json', name], { t });
  await waitListening(name);
  const pid = await connectOnce(t, name, 'stream');
  await srv.waitStdout('\n');
  srv.kill('SIGTERM');
  const r = await srv.exited;
  const rec = JSON.parse(r.stdout.toString().split('\n')[0]);
  t.like(rec, { pid, uid: 0, gid: 0, user: 'root', group: 'root', source: 'SO_PEERCRED' });
});

// Sends argv[2..] as datagrams to argv[1], from an autobound (named) socket, or unnamed when argv[2] is 'unnamed'.
const DGRAM_SENDER = py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
msgs = sys.argv[2:]
if msgs and msgs[0] == 'unnamed':
    msgs = msgs[1:]
else:
    s.bind('')
for m in msgs:
    for i in range(400):
        try:
            s.sendto(m.encode(), addr(sys.argv[1]))
            break
        except (ConnectionRefusedError, FileNotFoundError):
            time.sleep(0.025)
print(os.getpid(), flush=True)
`);

/** Runs DGRAM_SENDER (as nobody when asNobody); returns its pid. */
async function sendDatagrams(t, address, messages, asNobody = false) {
  const opts = asNobody ? { t, python: SYSTEM_PYTHON, uid: NOBODY_UID, gid: NOBODY_GID, cwd: '/' } : { t };
  const r = await runPython(DGRAM_SENDER, [address, ...messages], opts);
  t.is(r.code, 0, show(r));
  return Number(r.stdout.toString().trim());
}

rootTest('peercred --listen -t dgram: one record per message from SCM_CREDENTIALS, named and unnamed senders', async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o777);
  const sock = path.join(dir, 'd');
  const srv = usock(['peercred', '--listen', '-t', 'dgram', '--mode', '0666', '--json', sock], { t });
  await waitListening(sock, 'dgram');
  const a = await sendDatagrams(t, sock, ['one', 'two']);
  const b = await sendDatagrams(t, sock, ['unnamed', 'three'], true);
  await srv.waitStdout((s) => s.split('\n').length >= 4);
  srv.kill('SIGTERM');
  const r = await srv.exited;
  const recs = r.stdout
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  t.is(recs.length, 3);
  t.like(recs[0], { pid: a, uid: 0, gid: 0, user: 'root', source: 'SCM_CREDENTIALS', groups: null, label: null });
  t.like(recs[1], { pid: a, uid: 0 });
  t.like(recs[2], { pid: b, uid: NOBODY_UID, gid: NOBODY_GID, user: 'nobody' });
});

test('peercred --listen: bad --mode, unknown --allow-user, bad --backlog are usage errors (64) and no socket file is left', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  for (const args of [
    ['--mode', '999'],
    ['--allow-user', 'no-such-user-usock'],
    ['--backlog', '0'],
  ]) {
    const r = await runUsock(['peercred', '--listen', ...args, sock], { t });
    t.is(r.code, 64, show(r));
    assertCleanError(t, r.stderr);
    t.false(fs.existsSync(sock));
  }
});

test('peercred: --allow-* without --listen is a usage error (64), nothing printed', async (t) => {
  const name = '@' + abstractName();
  const [srv] = await startServer(t, name, 'stream');
  const r = await runUsock(['peercred', '--allow-uid', '12345', name], { t });
  t.is(r.code, 64, show(r));
  t.is(r.stdout.toString(), '');
  assertCleanError(t, r.stderr, /^usock: peercred: --allow-uid does not apply without --listen/);
  srv.end();
});

test('peercred on an 80-column TTY: every key whole on one line, values wrapped inside the width, colour escapes never split', async (t) => {
  const name = '@' + abstractName();
  const [srv] = await startServer(t, name, 'stream');
  const r = await runPython(
    py(`
import pty, fcntl, termios, struct, subprocess
m, s = pty.openpty()
fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
p = subprocess.Popen([sys.argv[1], sys.argv[2], 'peercred', sys.argv[3]], stdout=s, stderr=subprocess.DEVNULL, env=dict(os.environ, FORCE_COLOR='1'))
os.close(s)
out = b''
while True:
    try:
        d = os.read(m, 65536)
    except OSError:
        break
    if not d:
        break
    out += d
p.wait()
sys.stdout.write(out.decode())
`),
    [process.execPath, USOCK, name],
    { t },
  );
  const text = r.stdout.toString();
  t.regex(text, /\x1b\[36mpid\x1b\[39m/, 'keys coloured, escapes whole');
  const plain = text.replace(/\x1b\[\d+m/g, '');
  const lines = plain.split(/\r?\n/).filter(Boolean);
  for (const line of lines) t.true([...line].length <= 80, `line wider than 80 columns: ${JSON.stringify(line)}`);
  for (const key of ['pid', 'uid', 'gid', 'user', 'group', 'groups', 'label', 'exe', 'cgroup', 'command', 'source']) {
    t.true(
      lines.some((l) => new RegExp(`^│ ${key} +│`).test(l)),
      `key ${key} whole on one line`,
    );
  }
  srv.end();
});
