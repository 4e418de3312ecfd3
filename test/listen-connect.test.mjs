// End-to-end tests of `usock listen` and `usock connect` over stream sockets: addresses (path, @abstract, long
// paths), half-close, --keep-open, --mode, -z/--probe, --type auto, --as, and -v/-q/--json diagnostics.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  usock, runUsock, startProcess, python, runPython, py, tmpDir, abstractName, waitListening, waitForSocketFile,
  unixSockets, assertCleanError, endedBy, show, SEND_THEN_READ_CLIENT, SYSTEM_PYTHON, NOBODY_UID, USOCK,
} from './helpers.mjs';

const NOBODY_GID = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());

// A stream server: accepts one client, reads to EOF, sleeps, then replies with what it got; prints 'ready'.
const LATE_REPLY_SERVER = py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(addr(sys.argv[1]))
srv.listen(8)
print('ready', flush=True)
c, _ = srv.accept()
data = recv_all(c)
time.sleep(float(sys.argv[2]))
c.sendall(b'got %d bytes: ' % len(data) + data)
c.close()
`);

test('connect: half-close at stdin EOF, the late reply is printed (path)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = python(LATE_REPLY_SERVER, [sock, 1.5], { t });
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
  const srv = python(LATE_REPLY_SERVER, [sock, 0], { t });
  await srv.waitStdout('ready');
  const c = usock(['connect', sock], { t });
  c.write('part one\n');
  await new Promise((r) => setTimeout(r, 200));
  c.write('part two\n');
  c.end();
  const r = await c.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'got 18 bytes: part one\npart two\n');
});

test('connect @abstract reaches a Python server bound to \\0name (exact length)', async (t) => {
  const name = abstractName();
  const srv = python(LATE_REPLY_SERVER, ['@' + name, 0], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '@' + name], { input: 'abstract\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'got 9 bytes: abstract\n');
});

test('connect @abstract does not reach the same name NUL-padded to the whole sun_path', async (t) => {
  // Python binds '\0name' padded with NULs to the whole sun_path (108 bytes), which is what a padding
  // implementation would connect to; usock's exact-length '\0name' must not reach it.
  const name = abstractName();
  const srv = python(py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
n = sys.argv[1].encode()
srv.bind(b'\\0' + n + b'\\0' * (107 - len(n)))
srv.listen(8)
print('ready', flush=True)
time.sleep(60)
`), [name], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '@' + name], { input: '', t });
  t.is(r.code, 69, show(r));
  assertCleanError(t, r.stderr);
});

test('listen @abstract is reachable from Python connect(\\0name), no padding, no file', async (t) => {
  const dir = tmpDir(t);
  const name = abstractName();
  const l = usock(['listen', '@' + name], { cwd: dir, t });
  await waitListening('@' + name);
  // /proc/net/unix shows NULs as '@': a padded address would show as '@name@@@…'
  t.true(unixSockets().some((e) => e.path === '@' + name));
  t.false(unixSockets().some((e) => e.path.startsWith('@' + name + '@')));
  l.end('from usock\n');
  const cl = await runPython(SEND_THEN_READ_CLIENT, ['@' + name, 'from python\n'], { t });
  t.is(cl.code, 0, show(cl));
  t.is(cl.stdout.toString(), 'from usock\n');
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'from python\n');
  t.deepEqual(fs.readdirSync(dir), []);
});

test('listen PATH: one peer both ways, exit 0 when the peer closes, socket file removed', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', sock], { t });
  l.end('from usock\n'); // stdin EOF before any peer: still serves the first peer
  await waitListening(sock);
  t.true(fs.statSync(sock).isSocket());
  const cl = await runPython(SEND_THEN_READ_CLIENT, [sock, 'from python\n'], { t });
  t.is(cl.code, 0, show(cl));
  t.is(cl.stdout.toString(), 'from usock\n');
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'from python\n');
  t.false(fs.existsSync(sock));
});

test('listen: data written to stdin after the peer connected reaches it; listen half-closes at stdin EOF', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', sock], { t });
  await waitListening(sock);
  // The client sends, then waits for the server's EOF before closing its own side.
  const cl = python(py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
s.sendall(b'request\\n')
print('sent', flush=True)
data = recv_all(s)
sys.stdout.write('|' + data.decode())
s.sendall(b'after your EOF\\n')
s.close()
`), [sock], { t });
  await cl.waitStdout('sent');
  await l.waitStdout('request\n');
  l.write('answer 1\n');
  l.end('answer 2\n');
  const cr = await cl.exited;
  t.is(cr.code, 0, show(cr));
  t.is(cr.stdout.toString(), 'sent\n|answer 1\nanswer 2\n');
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'request\nafter your EOF\n');
});

test('listen and connect: two usock processes talk both ways', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', sock], { t });
  l.end('to connect\n');
  await waitListening(sock);
  const c = await runUsock(['connect', sock], { input: 'to listen\n', t });
  t.is(c.code, 0, show(c));
  t.is(c.stdout.toString(), 'to connect\n');
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'to listen\n');
});

function longDir(base, minBytes) {
  let dir = base;
  while (Buffer.byteLength(dir) < minBytes) dir = path.join(dir, 'd'.repeat(30));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

test('long path (~200 bytes): listen and connect work, the socket file is at the real path, removed at exit', async (t) => {
  const dir = longDir(tmpDir(t), 190);
  const sock = path.join(dir, `long-${randomBytes(3).toString('hex')}.sock`);
  t.true(Buffer.byteLength(sock) > 107 && Buffer.byteLength(sock) >= 190, `path is ${Buffer.byteLength(sock)} bytes`);
  const l = usock(['listen', sock], { t });
  l.end('pong\n');
  await waitForSocketFile(sock);
  await waitListening(sock);
  t.true(fs.statSync(sock).isSocket(), 'socket file at the real long path');
  const c = await runUsock(['connect', sock], { input: 'ping\n', t });
  t.is(c.code, 0, show(c));
  t.is(c.stdout.toString(), 'pong\n');
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'ping\n');
  t.false(fs.existsSync(sock), 'socket file removed at exit');
});

test('long path: connect reaches a Python server bound there (through its directory)', async (t) => {
  const dir = longDir(tmpDir(t), 200);
  const sock = path.join(dir, 'py.sock');
  const srv = python(py(`
os.chdir(os.path.dirname(sys.argv[1]))
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(os.path.basename(sys.argv[1]))
srv.listen(8)
print('ready', flush=True)
c, _ = srv.accept()
data = recv_all(c)
c.sendall(b'long:' + data)
c.close()
`), [sock], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', sock], { input: 'x', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'long:x');
});

test('long path: listen is reachable by a Python client connecting by the basename', async (t) => {
  const dir = longDir(tmpDir(t), 200);
  const sock = path.join(dir, `l-${randomBytes(3).toString('hex')}`);
  const l = usock(['listen', sock], { t });
  l.end('hi python\n');
  await waitForSocketFile(sock);
  const cl = await runPython(py(`
os.chdir(os.path.dirname(sys.argv[1]))
s = connect_retry(socket.SOCK_STREAM, os.path.basename(sys.argv[1]))
s.sendall(b'hi usock\\n')
s.shutdown(socket.SHUT_WR)
sys.stdout.buffer.write(recv_all(s))
`), [sock], { t });
  t.is(cl.code, 0, show(cl));
  t.is(cl.stdout.toString(), 'hi python\n');
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'hi usock\n');
});

test('listen -k: concurrent Python peers, each one\'s data on stdout, stdin goes to all, later peers too', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', '-k', sock], { t });
  await waitListening(sock);
  const N = 5;
  const clientScript = py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
s.sendall(('client-%s\\n' % sys.argv[2]).encode())
print('sent', flush=True)
buf = b''
while b'broadcast\\n' not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
sys.stdout.write('got:' + buf.decode())
s.close()
`);
  const clients = Array.from({ length: N }, (_, i) => python(clientScript, [sock, i], { t }));
  await Promise.all(clients.map((c) => c.waitStdout('sent')));
  // every client's line was read: each connection is accepted and served at the same time
  await l.waitStdout((s) => clients.every((_, i) => s.includes(`client-${i}\n`)));
  l.write('broadcast\n');
  const results = await Promise.all(clients.map((c) => c.exited));
  for (const r of results) {
    t.is(r.code, 0, show(r));
    t.is(r.stdout.toString(), 'sent\ngot:broadcast\n');
  }
  // still listening after all of them left
  const late = await runPython(py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
s.sendall(b'late\\n')
s.close()
`), [sock], { t });
  await l.waitStdout('late\n');
  t.false(l.done, 'usock -k must keep running after peers leave');
  const lines = l.text().split('\n').filter(Boolean).sort();
  t.deepEqual(lines, [...Array.from({ length: N }, (_, i) => `client-${i}`), 'late'].sort());
  l.kill('SIGTERM');
  const r = await l.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  t.false(fs.existsSync(sock));
  t.is(late.code, 0, show(late));
  t.is(late.stdout.toString(), '');
});

for (const mode of ['600', '640', '666', '0660', '700']) {
  test(`listen --mode ${mode}: exact permission bits of the socket file`, async (t) => {
    const dir = tmpDir(t);
    const sock = path.join(dir, 's');
    const l = usock(['listen', '--mode', mode, sock], { t });
    await waitListening(sock);
    t.is(fs.statSync(sock).mode & 0o7777, parseInt(mode, 8));
    l.kill('SIGTERM');
    await l.exited;
  });
}

test('listen --mode is race-free: the file never has wider bits (umask 000)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const p = startProcess('sh', ['-c', 'umask 000; exec "$0" "$1" listen --mode 600 "$2"', process.execPath, USOCK, sock], { t });
  const seen = new Set();
  const end = Date.now() + 20_000;
  // a tight synchronous loop: sees every mode the file has from the moment it appears until it listens
  for (;;) {
    try {
      seen.add(fs.statSync(sock).mode & 0o7777);
    } catch {}
    if (seen.size && unixSockets().some((e) => e.path === sock && (e.flags & 0x10000))) break;
    if (Date.now() > end) break;
  }
  seen.add(fs.statSync(sock).mode & 0o7777);
  for (const m of seen) t.is(m & ~0o600, 0, `socket file had mode ${m.toString(8)}`);
  t.is(fs.statSync(sock).mode & 0o7777, 0o600);
  p.kill('SIGTERM');
  await p.exited;
});

// Probe servers: accept connections and report what each sent; print 'ready'.
const PROBE_SERVER = py(`
kind = {'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET, 'dgram': socket.SOCK_DGRAM}[sys.argv[2]]
srv = socket.socket(socket.AF_UNIX, kind)
srv.bind(addr(sys.argv[1]))
if kind != socket.SOCK_DGRAM:
    srv.listen(8)
print('ready', flush=True)
if kind == socket.SOCK_DGRAM:
    time.sleep(60)
c, _ = srv.accept()
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
print('got %d bytes' % n, flush=True)
`);

test('connect -z: exit 0 when something listens, nothing is sent', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = python(PROBE_SERVER, [sock, 'stream'], { t });
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
  const srv = python(PROBE_SERVER, [sock, 'seqpacket'], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '--probe', '-t', 'seqpacket', sock], { input: 'x\n', t });
  t.is(r.code, 0, show(r));
  const s = await srv.exited;
  t.is(s.stdout.toString(), 'ready\ngot 0 bytes\n');
});

test('connect -z -t dgram: exit 0 when a dgram socket is bound', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = python(PROBE_SERVER, [sock, 'dgram'], { t });
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
  await runPython(py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.close()
`), [stale], { t });
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
    const srv = python(PROBE_SERVER, [sock, type], { t });
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

function assertNoStack(t, stderr) {
  t.false(/^\s+at /m.test(stderr.toString()), stderr.toString());
}

// A server that reports the peer's credentials (SO_PEERCRED) as JSON and closes.
const PEERCRED_SERVER = py(`
import struct
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(addr(sys.argv[1]))
if len(sys.argv) > 2:
    os.chmod(sys.argv[1], int(sys.argv[2], 8))
srv.listen(8)
print('ready', flush=True)
c, _ = srv.accept()
pid, uid, gid = struct.unpack('3i', c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
print(json.dumps({'uid': uid, 'gid': gid}), flush=True)
c.sendall(b'welcome\\n')
c.close()
`);

test('connect --as nobody: the server sees uid 65534 and nobody\'s gid (abstract)', async (t) => {
  const name = '@' + abstractName();
  const srv = python(PEERCRED_SERVER, [name], { t, python: SYSTEM_PYTHON });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '--as', 'nobody', name], { input: '', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'welcome\n');
  const s = await srv.exited;
  const cred = JSON.parse(s.stdout.toString().split('\n')[1]);
  t.deepEqual(cred, { uid: NOBODY_UID, gid: NOBODY_GID });
});

test('connect --as nobody on a path socket nobody may use', async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o755);
  const sock = path.join(dir, 's');
  const srv = python(PEERCRED_SERVER, [sock, '777'], { t, python: SYSTEM_PYTHON });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '--as', 'nobody', sock], { input: '', t });
  t.is(r.code, 0, show(r));
  const s = await srv.exited;
  t.is(JSON.parse(s.stdout.toString().split('\n')[1]).uid, NOBODY_UID);
});

test('connect --as nobody is refused (77) by a socket file only root may use', async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o755);
  const sock = path.join(dir, 's');
  const srv = python(PEERCRED_SERVER, [sock, '700'], { t, python: SYSTEM_PYTHON });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '--as', 'nobody', sock], { input: '', t });
  t.is(r.code, 77, show(r));
  assertCleanError(t, r.stderr);
  // root itself still gets in: the refusal came from --as
  const ok = await runUsock(['connect', sock], { input: '', t });
  t.is(ok.code, 0, show(ok));
  t.is(JSON.parse((await srv.exited).stdout.toString().split('\n')[1]).uid, 0);
});

test('connect --as as non-root is refused with 77 or 64 and one clear line', async (t) => {
  const name = '@' + abstractName();
  const srv = python(PEERCRED_SERVER, [name], { t, python: SYSTEM_PYTHON });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '--as', 'root', name], { input: '', t, uid: NOBODY_UID, gid: NOBODY_GID, cwd: '/' });
  t.true(r.code === 77 || r.code === 64, show(r));
  assertCleanError(t, r.stderr);
  t.is(r.stdout.toString(), '');
});

// ---- diagnostics: -v, -q, --json --------------------------------------------------------------------------

const PID_CLIENT = py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
print(os.getpid(), flush=True)
s.sendall(b'data\\n')
s.shutdown(socket.SHUT_WR)
recv_all(s)
time.sleep(0.2)
s.close()
`);

async function listenWith(t, flags) {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', ...flags, sock], { t });
  l.end();
  await waitListening(sock);
  const cl = await runPython(PID_CLIENT, [sock], { t });
  const r = await l.exited;
  return { r, pid: cl.stdout.toString().trim() };
}

test('listen -v: diagnostics on stderr name the peer (its pid), data unchanged on stdout', async (t) => {
  const { r, pid } = await listenWith(t, ['-v']);
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'data\n');
  t.true(r.stderr.length > 0, 'nothing on stderr with -v');
  t.true(r.stderr.toString().includes(pid), `peer pid ${pid} not in: ${r.stderr}`);
  assertNoStack(t, r.stderr);
});

test('listen -q: nothing on stderr', async (t) => {
  const { r } = await listenWith(t, ['-q']);
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'data\n');
  t.is(r.stderr.toString(), '');
});

test('listen -q -v: quiet wins, nothing on stderr', async (t) => {
  const { r } = await listenWith(t, ['-q', '-v']);
  t.is(r.code, 0, show(r));
  t.is(r.stderr.toString(), '');
});

test('listen --json -v: every stderr line is a JSON object, stdout is the raw data', async (t) => {
  const { r, pid } = await listenWith(t, ['--json', '-v']);
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'data\n');
  const lines = r.stderr.toString().split('\n').filter(Boolean);
  t.true(lines.length > 0);
  for (const line of lines) {
    let obj;
    t.notThrows(() => (obj = JSON.parse(line)), line);
    t.is(typeof obj, 'object');
  }
  t.true(r.stderr.toString().includes(pid));
});

test('connect -v reports the connection on stderr; -q keeps stderr empty', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  for (const [flag, expectOutput] of [['-v', true], ['-q', false]]) {
    const srv = python(LATE_REPLY_SERVER, [sock, 0], { t });
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

test('no colour escapes in -v diagnostics when stderr is not a TTY', async (t) => {
  const { r } = await listenWith(t, ['-v']);
  t.false(r.stderr.includes('\x1b['), r.stderr.toString());
  t.false(r.stdout.includes('\x1b['));
});
