// End-to-end tests of `usock listen`: stream (path, @abstract, long paths, half-close, -k, --mode), dgram (unnamed
// senders, stdin to the most recent sender, big datagrams), seqpacket (one peer, -k), and -v/-q/--json diagnostics.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  usock,
  runUsock,
  startProcess,
  python,
  runPython,
  runPythonFile,
  py,
  tmpDir,
  abstractName,
  waitListening,
  waitForSocketFile,
  unixSockets,
  assertNoStack,
  endedBy,
  show,
  longDir,
  sendDatagrams,
  USOCK,
} from '../helpers.mjs';

test('listen @abstract is reachable from Python connect(\\0name), no padding, no file', async (t) => {
  const dir = tmpDir(t);
  const name = abstractName();
  const l = usock(['listen', '@' + name], { cwd: dir, t });
  await waitListening('@' + name);
  // /proc/net/unix shows NULs as '@': a padded address would show as '@name@@@…'
  t.true(unixSockets().some((e) => e.path === '@' + name));
  t.false(unixSockets().some((e) => e.path.startsWith('@' + name + '@')));
  l.end('from usock\n');
  const cl = await runPythonFile('send_then_read.py', ['@' + name, 'from python\n'], { t });
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
  const cl = await runPythonFile('send_then_read.py', [sock, 'from python\n'], { t });
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
  const cl = python(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
s.sendall(b'request\\n')
print('sent', flush=True)
data = recv_all(s)
sys.stdout.write('|' + data.decode())
s.sendall(b'after your EOF\\n')
s.close()
`),
    [sock],
    { t },
  );
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

test('long path: listen is reachable by a Python client connecting by the basename', async (t) => {
  const dir = longDir(tmpDir(t), 200);
  const sock = path.join(dir, `l-${randomBytes(3).toString('hex')}`);
  const l = usock(['listen', sock], { t });
  l.end('hi python\n');
  await waitForSocketFile(sock);
  const cl = await runPython(
    py(`
os.chdir(os.path.dirname(sys.argv[1]))
s = connect_retry(socket.SOCK_STREAM, os.path.basename(sys.argv[1]))
s.sendall(b'hi usock\\n')
s.shutdown(socket.SHUT_WR)
sys.stdout.buffer.write(recv_all(s))
`),
    [sock],
    { t },
  );
  t.is(cl.code, 0, show(cl));
  t.is(cl.stdout.toString(), 'hi python\n');
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'hi usock\n');
});

test("listen -k: concurrent Python peers, each one's data on stdout, stdin goes to all, later peers too", async (t) => {
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
  const late = await runPython(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
s.sendall(b'late\\n')
s.close()
`),
    [sock],
    { t },
  );
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
    if (seen.size && unixSockets().some((e) => e.path === sock && e.flags & 0x10000)) break;
    if (Date.now() > end) break;
  }
  seen.add(fs.statSync(sock).mode & 0o7777);
  for (const m of seen) t.is(m & ~0o600, 0, `socket file had mode ${m.toString(8)}`);
  t.is(fs.statSync(sock).mode & 0o7777, 0o600);
  p.kill('SIGTERM');
  await p.exited;
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

test('no colour escapes in -v diagnostics when stderr is not a TTY', async (t) => {
  const { r } = await listenWith(t, ['-v']);
  t.false(r.stderr.includes('\x1b['), r.stderr.toString());
  t.false(r.stdout.includes('\x1b['));
});

// ---- dgram and seqpacket ----------------------------------------------------------------------------------

// A scripted dgram peer: bound to argv[1] ('' = unbound, '-' = unbound), talks to argv[2].
// stdin commands: 'send TEXT' -> sendto, prints 'sent'; 'recv' -> prints 'recv:DATA'.
const DGRAM_PEER = py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
if sys.argv[1] != '-':
    s.bind(addr(sys.argv[1]))
print('ready', flush=True)
for line in sys.stdin:
    line = line.rstrip('\\n')
    if line.startswith('send '):
        s.sendto(line[5:].encode(), addr(sys.argv[2]))
        print('sent', flush=True)
    elif line == 'recv':
        print('recv:' + s.recv(65536).decode(), flush=True)
`);

const count = (text, prefix) => text.split('\n').filter((l) => l.startsWith(prefix)).length;

test('dgram listen: unnamed senders are received; stdin goes to the most recent sender with an address', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'l');
  const l = usock(['listen', '-t', 'dgram', sock], { t });
  await waitListening(sock, 'dgram');

  await sendDatagrams(t, sock, 'anon1');
  await l.waitStdout('anon1\n');

  const a = python(DGRAM_PEER, [path.join(dir, 'a'), sock], { t });
  const b = python(DGRAM_PEER, [path.join(dir, 'b'), sock], { t });
  await Promise.all([a.waitStdout('ready'), b.waitStdout('ready')]);

  a.write('send from-a\n');
  await l.waitStdout('from-a\n');
  l.write('reply1\n');
  a.write('recv\n');
  await a.waitStdout('recv:reply1\n');

  // an unnamed sender in between does not take the replies away from A
  await sendDatagrams(t, sock, 'anon2');
  await l.waitStdout('anon2\n');
  l.write('reply2\n');
  a.write('recv\n');
  await a.waitStdout('recv:reply2\n');

  b.write('send from-b\n');
  await l.waitStdout('from-b\n');
  l.write('reply3\n');
  b.write('recv\n');
  await b.waitStdout('recv:reply3\n');

  // A speaks again: the next reply is A's, and A never got reply3 (its next message is reply4)
  a.write('send from-a2\n');
  await l.waitStdout('from-a2\n');
  l.write('reply4\n');
  a.write('recv\n');
  await a.waitStdout((s) => count(s, 'recv:') === 3 && s.endsWith('\n')); // the line whole: python writes its end apart
  t.is(a.text(), 'ready\nsent\nrecv:reply1\nrecv:reply2\nsent\nrecv:reply4\n');
  t.is(b.text(), 'ready\nsent\nrecv:reply3\n');
  t.is(l.text(), 'anon1\nfrom-a\nanon2\nfrom-b\nfrom-a2\n');

  a.end();
  b.end();
  l.kill('SIGTERM');
  const r = await l.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
  t.false(fs.existsSync(sock), 'dgram socket file removed on SIGTERM');
});

test('dgram listen @abstract: Python sends to \\0name from an unbound socket', async (t) => {
  const name = '@' + abstractName();
  const l = usock(['listen', '-t', 'dgram', name], { t });
  await waitListening(name, 'dgram');
  await sendDatagrams(t, name, 'hello abstract');
  await l.waitStdout('hello abstract\n');
  t.is(l.text(), 'hello abstract\n');
  l.kill('SIGTERM');
  await l.exited;
});

test('dgram listen: a 200 KB datagram arrives whole (receive buffer sized to the message)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'l');
  const l = usock(['listen', '-t', 'dgram', '--frame', 'raw', sock], { t });
  await waitListening(sock, 'dgram');
  const r = await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
s.sendto(b'B' * 200000, addr(sys.argv[1]))
`),
    [sock],
    { t },
  );
  t.is(r.code, 0, show(r));
  await l.waitStdout((s) => s.length >= 200000);
  t.is(l.stdout().length, 200000);
  t.true(l.stdout().every((b) => b === 0x42));
  l.kill('SIGTERM');
  await l.exited;
});

test('seqpacket listen: one peer, messages both ways, exit 0 at the end', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', '-t', 'seqpacket', sock], { t });
  l.end('m1\nm2\n');
  await waitListening(sock, 'seqpacket');
  const cl = await runPython(
    py(`
s = connect_retry(socket.SOCK_SEQPACKET, sys.argv[1])
s.send(b'c1')
s.send(b'c2 c2')
s.shutdown(socket.SHUT_WR)
msgs = []
while True:
    d = s.recv(65536)
    if not d:
        break
    msgs.append(d.decode())
print(json.dumps(msgs))
`),
    [sock],
    { t },
  );
  t.is(cl.code, 0, show(cl));
  t.deepEqual(JSON.parse(cl.stdout.toString()), ['m1', 'm2']);
  const r = await l.exited;
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'c1\nc2 c2\n');
  t.false(fs.existsSync(sock));
});

test('seqpacket listen -k: two concurrent peers', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', '-k', '-t', 'seqpacket', sock], { t });
  await waitListening(sock, 'seqpacket');
  const script = py(`
s = connect_retry(socket.SOCK_SEQPACKET, sys.argv[1])
s.send(('peer-' + sys.argv[2]).encode())
print('sent', flush=True)
print('got:' + s.recv(65536).decode(), flush=True)
`);
  const peers = [python(script, [sock, 1], { t }), python(script, [sock, 2], { t })];
  await Promise.all(peers.map((p) => p.waitStdout('sent')));
  await l.waitStdout((s) => s.includes('peer-1\n') && s.includes('peer-2\n'));
  l.write('to all\n');
  for (const p of peers) {
    const r = await p.exited;
    t.is(r.stdout.toString(), 'sent\ngot:to all\n', show(r));
  }
  l.kill('SIGTERM');
  const r = await l.exited;
  t.true(endedBy(r, 'SIGTERM'), show(r));
});
