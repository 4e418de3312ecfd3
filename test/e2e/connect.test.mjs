// End-to-end tests of `usock connect`: stream (half-close, @abstract, long paths, -z/--probe, --type auto, --as,
// -v/-q), dgram (autobind, --bind, --wait) and seqpacket (message boundaries, late replies).
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import {
  usock,
  runUsock,
  python,
  pythonFile,
  runPython,
  py,
  tmpDir,
  abstractName,
  assertCleanError,
  assertNoStack,
  show,
  idleStreamServer,
  longDir,
  SYSTEM_PYTHON,
  NOBODY_UID,
  NOBODY_GID,
  rootTest,
} from '../helpers.mjs';

test('connect: half-close at stdin EOF, the late reply is printed (path)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = pythonFile('late_reply_server.py', [sock, 0.5], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', sock], { input: 'hello\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'got 6 bytes: hello\n');
  t.is(r.stderr.toString(), '');
  await srv.exited;
});

test('connect: stdin of several chunks arrives whole before the half-close', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = pythonFile('late_reply_server.py', [sock, 0], { t });
  await srv.waitStdout('ready');
  const c = usock(['connect', sock], { t });
  c.write('part one\n');
  await new Promise((r) => setTimeout(r, 200)); // two writes apart (together, the test is only weaker)
  c.write('part two\n');
  c.end();
  const r = await c.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'got 18 bytes: part one\npart two\n');
});

test('connect @abstract reaches a Python server bound to \\0name (exact length)', async (t) => {
  const name = abstractName();
  const srv = pythonFile('late_reply_server.py', ['@' + name, 0], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '@' + name], { input: 'abstract\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'got 9 bytes: abstract\n');
});

test('connect @abstract does not reach the same name NUL-padded to the whole sun_path', async (t) => {
  // Python binds '\0name' padded with NULs to the whole sun_path (108 bytes), which is what a padding
  // implementation would connect to; usock's exact-length '\0name' must not reach it.
  const name = abstractName();
  const srv = python(
    py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
n = sys.argv[1].encode()
srv.bind(b'\\0' + n + b'\\0' * (107 - len(n)))
srv.listen(8)
print('ready', flush=True)
time.sleep(60)
`),
    [name],
    { t },
  );
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '@' + name], { input: '', t });
  t.is(r.code, 69, show(r));
  assertCleanError(t, r.stderr);
});

test('long path: connect reaches a Python server bound there (through its directory)', async (t) => {
  const dir = longDir(tmpDir(t), 200);
  const sock = path.join(dir, 'py.sock');
  const srv = python(
    py(`
os.chdir(os.path.dirname(sys.argv[1]))
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(os.path.basename(sys.argv[1]))
srv.listen(8)
print('ready', flush=True)
c, _ = srv.accept()
data = recv_all(c)
c.sendall(b'long:' + data)
c.close()
`),
    [sock],
    { t },
  );
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', sock], { input: 'x', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'long:x');
});

test('connect -z: exit 0 when something listens, nothing is sent', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = pythonFile('probe_server.py', [sock, 'stream'], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-z', sock], { input: 'must not be sent\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), '');
  const s = await srv.exited;
  t.is(s.stdout.toString(), 'ready\ngot 0 bytes\n');
});

test('connect --probe (long form) and -z on seqpacket', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = pythonFile('probe_server.py', [sock, 'seqpacket'], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '--probe', '-t', 'seqpacket', sock], { input: 'x\n', t });
  t.is(r.code, 0, show(r));
  const s = await srv.exited;
  t.is(s.stdout.toString(), 'ready\ngot 0 bytes\n');
});

test('connect -z -t dgram: exit 0 when a dgram socket is bound', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = pythonFile('probe_server.py', [sock, 'dgram'], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-z', '-t', 'dgram', sock], { t });
  t.is(r.code, 0, show(r));
});

test('connect -z: 69 for a missing path, 69 for a refused (stale) socket, 69 for an unused abstract name', async (t) => {
  const dir = tmpDir(t);
  const missing = await runUsock(['connect', '-z', path.join(dir, 'nothing')], { t });
  t.is(missing.code, 69, show(missing));
  assertCleanError(t, missing.stderr);
  const stale = path.join(dir, 'stale');
  await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.close()
`),
    [stale],
    { t },
  );
  t.true(fs.statSync(stale).isSocket());
  const refused = await runUsock(['connect', '-z', stale], { t });
  t.is(refused.code, 69, show(refused));
  assertCleanError(t, refused.stderr);
  const abs = await runUsock(['connect', '-z', '@' + abstractName()], { t });
  t.is(abs.code, 69, show(abs));
  assertCleanError(t, abs.stderr);
});

for (const type of ['stream', 'dgram', 'seqpacket']) {
  test(`connect -z --type auto detects a ${type} socket`, async (t) => {
    const dir = tmpDir(t);
    const sock = path.join(dir, 's');
    const srv = pythonFile('probe_server.py', [sock, type], { t });
    await srv.waitStdout('ready');
    const r = await runUsock(['connect', '-z', '--type', 'auto', sock], { t });
    t.is(r.code, 0, show(r));
    assertNoStack(t, r.stderr);
  });
}

test('connect -z --type auto: 69 when nothing is there', async (t) => {
  const dir = tmpDir(t);
  const r = await runUsock(['connect', '-z', '-t', 'auto', path.join(dir, 'none')], { t });
  t.is(r.code, 69, show(r));
  assertCleanError(t, r.stderr);
});

rootTest("connect --as nobody: the server sees uid 65534 and nobody's gid (abstract)", async (t) => {
  const name = '@' + abstractName();
  const srv = pythonFile('peercred_server.py', [name], { t, python: SYSTEM_PYTHON });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '--as', 'nobody', name], { input: '', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'welcome\n');
  const s = await srv.exited;
  const cred = JSON.parse(s.stdout.toString().split('\n')[1]);
  t.deepEqual(cred, { uid: NOBODY_UID, gid: NOBODY_GID });
});

rootTest('connect --as nobody on a path socket nobody may use', async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o755);
  const sock = path.join(dir, 's');
  const srv = pythonFile('peercred_server.py', [sock, '777'], { t, python: SYSTEM_PYTHON });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '--as', 'nobody', sock], { input: '', t });
  t.is(r.code, 0, show(r));
  const s = await srv.exited;
  t.is(JSON.parse(s.stdout.toString().split('\n')[1]).uid, NOBODY_UID);
});

rootTest('connect --as nobody is refused (77) by a socket file only root may use', async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o755);
  const sock = path.join(dir, 's');
  const srv = pythonFile('peercred_server.py', [sock, '700'], { t, python: SYSTEM_PYTHON });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '--as', 'nobody', sock], { input: '', t });
  t.is(r.code, 77, show(r));
  assertCleanError(t, r.stderr);
  // root itself still gets in: the refusal came from --as
  const ok = await runUsock(['connect', sock], { input: '', t });
  t.is(ok.code, 0, show(ok));
  t.is(JSON.parse((await srv.exited).stdout.toString().split('\n')[1]).uid, 0);
});

rootTest('connect --as as non-root is refused with 77 or 64 and one clear line', async (t) => {
  const name = '@' + abstractName();
  const srv = pythonFile('peercred_server.py', [name], { t, python: SYSTEM_PYTHON });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '--as', 'root', name], { input: '', t, uid: NOBODY_UID, gid: NOBODY_GID, cwd: '/' });
  t.true(r.code === 77 || r.code === 64, show(r));
  assertCleanError(t, r.stderr);
  t.is(r.stdout.toString(), '');
});

test('connect -v reports the connection on stderr; -q keeps stderr empty', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  for (const [flag, expectOutput] of /** @type {Array<[string, boolean]>} */ ([
    ['-v', true],
    ['-q', false],
  ])) {
    const srv = pythonFile('late_reply_server.py', [sock, 0], { t });
    await srv.waitStdout('ready');
    const r = await runUsock(['connect', flag, sock], { input: 'x', t });
    t.is(r.code, 0, show(r));
    t.is(r.stdout.toString(), 'got 1 bytes: x');
    if (expectOutput) t.true(r.stderr.length > 0, `no diagnostics with ${flag}`);
    else t.is(r.stderr.toString(), '');
    await srv.exited;
    fs.rmSync(sock, { force: true });
  }
});

// ---- dgram and seqpacket ----------------------------------------------------------------------------------

function records(stdout) {
  return stdout
    .toString()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

test('dgram connect: autobind (abstract, no file) so the Python server can reply', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const srv = pythonFile('dgram_server.py', [sock, 2, 0, 1], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', sock], { input: 'one\ntwo\n', cwd: dir, t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'echo:one\necho:two\n');
  const recs = records((await srv.exited).stdout);
  t.deepEqual(
    recs.map((x) => x.data),
    ['one', 'two'],
  );
  for (const rec of recs) {
    t.truthy(rec.sender, 'sender had no address');
    t.true(rec.sender.startsWith('\0'), `sender ${JSON.stringify(rec.sender)} is not an abstract (autobind) address`);
  }
  t.deepEqual(fs.readdirSync(dir), ['srv'], 'no file left behind by autobind');
});

test('dgram connect @abstract server', async (t) => {
  const name = '@' + abstractName();
  const srv = pythonFile('dgram_server.py', [name, 1, 0, 1], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', name], { input: 'abs\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'echo:abs\n');
});

test('dgram connect --bind PATH: the server sees that address and replies there', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const me = path.join(dir, 'me');
  const srv = pythonFile('dgram_server.py', [sock, 1, 0, 1], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', '--bind', me, sock], { input: 'bound\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'echo:bound\n');
  t.is(records((await srv.exited).stdout)[0].sender, me);
});

test('dgram connect --bind PATH: the socket file usock created is removed at exit', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const me = path.join(dir, 'me');
  const srv = pythonFile('dgram_server.py', [sock, 1, 0, 1], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', '--bind', me, sock], { input: 'x\n', t });
  t.is(r.code, 0, show(r));
  t.false(fs.existsSync(me));
});

test('dgram connect --bind @name', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const me = '@' + abstractName();
  const srv = pythonFile('dgram_server.py', [sock, 1, 0, 1], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', '--bind', me, sock], { input: 'x\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'echo:x\n');
  t.is(records((await srv.exited).stdout)[0].sender, '\0' + me.slice(1));
});

test('dgram connect --wait: a reply sent 1 s after the message still arrives with --wait 2 (the default is 0.5)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const srv = pythonFile('dgram_server.py', [sock, 1, 1.0, 1], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', '--wait', '2', sock], { input: 'slow\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'echo:slow\n');
});

test('dgram connect --wait: several spaced replies are all printed', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const srv = pythonFile('dgram_server.py', [sock, 1, 0, 3], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', '--wait', '1.5', sock], { input: 'm\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'echo:m#0\necho:m#1\necho:m#2\n');
});

test('seqpacket connect: messages keep their boundaries, half-close, late replies printed', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = pythonFile('seqpacket_server.py', [sock, 0.5], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'seqpacket', sock], { input: 'one\ntwo words\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'ONE\nTWO WORDS\ndone\n');
  const s = await srv.exited;
  t.deepEqual(JSON.parse(s.stdout.toString().split('\n')[1]), ['one', 'two words']);
});

test('seqpacket connect to a stream socket fails with one clean line', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  await idleStreamServer(t, sock);
  const r = await runUsock(['connect', '-t', 'seqpacket', sock], { input: 'x\n', t });
  t.not(r.code, 0, show(r));
  assertCleanError(t, r.stderr);
});
