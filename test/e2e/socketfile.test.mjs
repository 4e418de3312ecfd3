// Socket file lifecycle: stale sockets replaced, live sockets and non-sockets refused (73) and left alone,
// the file usock created removed at exit and on SIGINT/SIGTERM/SIGHUP, but not when the path was replaced.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  usock,
  runUsock,
  python,
  runPython,
  py,
  tmpDir,
  waitListening,
  waitForSocketFile,
  assertCleanError,
  endedBy,
  show,
  runPythonFile,
} from '../helpers.mjs';

// Connects and prints what the server sends until it closes (sends nothing: the server may close at once).
const READ_CLIENT = py(`
kind = socket.SOCK_SEQPACKET if len(sys.argv) > 2 and sys.argv[2] == 'seqpacket' else socket.SOCK_STREAM
s = connect_retry(kind, sys.argv[1])
sys.stdout.buffer.write(recv_all(s))
`);

function inode(p) {
  return fs.statSync(p).ino;
}

test('a stale socket file (bound, closed, not unlinked) is replaced and usock serves there', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const st = await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(1)
s.close()
`),
    [sock],
    { t },
  );
  t.is(st.code, 0, show(st));
  t.true(fs.statSync(sock).isSocket());
  const l = usock(['listen', sock], { t });
  l.end('fresh\n');
  await waitListening(sock);
  const cl = await runPythonFile('send_then_read.py', [sock, 'hello\n'], { t });
  t.is(cl.stdout.toString(), 'fresh\n', show(cl));
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'hello\n');
});

test('a stale dgram socket file is replaced by listen -t dgram', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.close()
`),
    [sock],
    { t },
  );
  const l = usock(['listen', '-t', 'dgram', sock], { t });
  await waitListening(sock, 'dgram');
  await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b'after stale', sys.argv[1])
`),
    [sock],
    { t },
  );
  await l.waitStdout('after stale\n');
  l.kill('SIGTERM');
  await l.exited;
  t.false(fs.existsSync(sock));
});

// A live Python listener that prints 'ready PID' and answers every client with 'python here'.
const LIVE_SERVER = py(`
kind = {'stream': socket.SOCK_STREAM, 'dgram': socket.SOCK_DGRAM, 'seqpacket': socket.SOCK_SEQPACKET}[sys.argv[2]]
srv = socket.socket(socket.AF_UNIX, kind)
srv.bind(sys.argv[1])
if kind != socket.SOCK_DGRAM:
    srv.listen(8)
print('ready %d' % os.getpid(), flush=True)
if kind == socket.SOCK_DGRAM:
    time.sleep(120)
while True:
    c, _ = srv.accept()
    try:
        c.sendall(b'python here')
    except OSError:
        pass  # a probe that connected and left at once
    c.close()
`);

for (const [peerType, usockType] of [
  ['stream', 'stream'],
  ['seqpacket', 'seqpacket'],
  ['dgram', 'dgram'],
  ['dgram', 'stream'],
]) {
  test(`a live ${peerType} socket is refused by listen -t ${usockType}: 73, names the owner pid, left working`, async (t) => {
    const dir = tmpDir(t);
    const sock = path.join(dir, 's');
    const srv = python(LIVE_SERVER, [sock, peerType], { t });
    const ready = await srv.waitStdout((s) => /ready \d+/.test(s));
    const pid = /ready (\d+)/.exec(ready)[1];
    const ino = inode(sock);
    const r = await runUsock(['listen', '-t', usockType, sock], { input: '', t });
    t.is(r.code, 73, show(r));
    assertCleanError(t, r.stderr);
    t.true(r.stderr.toString().includes(pid), `owner pid ${pid} not named: ${r.stderr}`);
    t.is(inode(sock), ino, 'the live socket file must not be replaced');
    if (peerType !== 'dgram') {
      const cl = await runPython(READ_CLIENT, [sock, peerType], { t });
      t.is(cl.stdout.toString(), 'python here', 'the Python server still answers');
    }
  });
}

test('a live socket is refused by echo-server too (73)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = python(LIVE_SERVER, [sock, 'stream'], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['echo-server', sock], { t });
  t.is(r.code, 73, show(r));
  assertCleanError(t, r.stderr);
  t.true(fs.statSync(sock).isSocket());
});

test('a live socket held by another usock is refused (73)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  // -k: the liveness probe of the second usock is a connection the first one accepts; it must stay
  const first = usock(['listen', '-k', sock], { t });
  await waitListening(sock);
  const r = await runUsock(['listen', sock], { input: '', t });
  t.is(r.code, 73, show(r));
  assertCleanError(t, r.stderr);
  t.true(r.stderr.toString().includes(String(first.pid)), r.stderr.toString());
  t.true(fs.statSync(sock).isSocket(), 'the first usock keeps its socket file');
  first.kill('SIGTERM');
  await first.exited;
});

test('a regular file at the path: 73, left untouched', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'precious content\n');
  fs.chmodSync(file, 0o640);
  const before = fs.statSync(file);
  for (const cmd of [['listen'], ['listen', '-t', 'dgram'], ['listen', '-t', 'seqpacket'], ['echo-server']]) {
    const r = await runUsock([...cmd, file], { input: '', t });
    t.is(r.code, 73, `${cmd.join(' ')}: ${show(r)}`);
    assertCleanError(t, r.stderr);
  }
  const after = fs.statSync(file);
  t.is(fs.readFileSync(file, 'utf8'), 'precious content\n');
  t.is(after.ino, before.ino);
  t.is(after.mode, before.mode);
});

test('a directory, a FIFO and a symlink at the path: 73, left untouched', async (t) => {
  const dir = tmpDir(t);
  const d = path.join(dir, 'd');
  fs.mkdirSync(d);
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const target = path.join(dir, 'target');
  fs.writeFileSync(target, 'target content');
  const link = path.join(dir, 'link');
  fs.symlinkSync(target, link);
  for (const p of [d, fifo, link]) {
    const r = await runUsock(['listen', p], { input: '', t });
    t.is(r.code, 73, `${p}: ${show(r)}`);
    assertCleanError(t, r.stderr);
  }
  t.true(fs.statSync(d).isDirectory());
  t.true(fs.statSync(fifo).isFIFO());
  t.true(fs.lstatSync(link).isSymbolicLink());
  t.is(fs.readFileSync(target, 'utf8'), 'target content');
});

test('the socket file is removed at normal exit', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', sock], { t });
  l.end();
  await waitListening(sock);
  await runPythonFile('send_then_read.py', [sock, 'bye\n'], { t });
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.deepEqual(fs.readdirSync(dir), []);
});

for (const type of ['stream', 'seqpacket', 'dgram']) {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    test(`listen -t ${type}: ${sig} removes the socket file and re-raises the signal`, async (t) => {
      const dir = tmpDir(t);
      const sock = path.join(dir, 's');
      const l = usock(['listen', '-t', type, sock], { t });
      await waitListening(sock, type);
      l.kill(sig);
      const r = await l.exited;
      t.true(endedBy(r, sig), show(r));
      t.false(fs.existsSync(sock), 'socket file left behind');
      t.false(/^\s+at /m.test(r.stderr.toString()));
    });
  }
}

test('listen -k: SIGTERM with connected peers removes the socket file', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', '-k', sock], { t });
  await waitListening(sock);
  const cl = python(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
s.sendall(b'connected\\n')
recv_all(s)
`),
    [sock],
    { t },
  );
  await l.waitStdout('connected\n');
  l.kill('SIGTERM');
  const r = await l.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  t.false(fs.existsSync(sock));
  await cl.exited;
});

test('the path replaced by a regular file meanwhile is NOT removed at SIGTERM', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', sock], { t });
  await waitListening(sock);
  fs.rmSync(sock);
  fs.writeFileSync(sock, "someone else's file\n");
  l.kill('SIGTERM');
  const r = await l.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  t.true(fs.existsSync(sock), 'the replacement file was removed');
  t.is(fs.readFileSync(sock, 'utf8'), "someone else's file\n");
});

test('the path replaced by another live socket meanwhile is NOT removed at exit', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', '-k', sock], { t });
  await waitListening(sock);
  fs.rmSync(sock);
  const srv = python(LIVE_SERVER, [sock, 'stream'], { t });
  await srv.waitStdout('ready');
  const ino = inode(sock);
  l.kill('SIGINT');
  const r = await l.exited;
  t.true(endedBy(r, 'SIGINT'), show(r));
  t.true(fs.existsSync(sock), 'the other socket file was removed');
  t.is(inode(sock), ino);
  const cl = await runPython(READ_CLIENT, [sock], { t });
  t.is(cl.stdout.toString(), 'python here', show(cl));
});

test('the path replaced meanwhile is NOT removed at normal exit either', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', sock], { t });
  l.end();
  await waitListening(sock);
  // connect first (the accept queue holds us), then swap the file, then let usock finish
  const cl = python(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
print('connected', flush=True)
sys.stdin.readline()
s.sendall(b'done\\n')
s.shutdown(socket.SHUT_WR)
recv_all(s)
`),
    [sock],
    { t },
  );
  await cl.waitStdout('connected');
  // usock may already have unlinked its file once it accepted its one peer; either way the path now
  // holds someone else's file, which usock must leave alone
  fs.rmSync(sock, { force: true });
  fs.writeFileSync(sock, 'replacement\n');
  cl.end('go\n');
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'done\n');
  t.is(fs.readFileSync(sock, 'utf8'), 'replacement\n');
});

test('echo-server: SIGHUP removes its socket file', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const e = usock(['echo-server', '-t', 'seqpacket', sock], { t });
  await waitListening(sock, 'seqpacket');
  e.kill('SIGHUP');
  const r = await e.exited;
  t.true(endedBy(r, 'SIGHUP'), show(r));
  t.false(fs.existsSync(sock));
});

test('listen in a relative path (cwd) creates and removes the file there', async (t) => {
  const dir = tmpDir(t);
  const l = usock(['listen', 'rel.sock'], { cwd: dir, t });
  await waitForSocketFile(path.join(dir, 'rel.sock'));
  await waitListening('rel.sock');
  l.kill('SIGTERM');
  await l.exited;
  t.deepEqual(fs.readdirSync(dir), []);
});
