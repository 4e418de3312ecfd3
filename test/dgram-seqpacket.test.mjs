// End-to-end tests of listen/connect over dgram and seqpacket: replies to autobound and --bind senders, --wait,
// unnamed senders, stdin to the most recent sender, --frame line|nul|raw|len32, --max-size, half-close.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import {
  usock, runUsock, python, runPython, py, tmpDir, abstractName, waitListening, assertCleanError, endedBy, show,
  idleStreamServer, len32,
} from './helpers.mjs';

function noStack(t, stderr) {
  t.false(/^\s+at /m.test(stderr.toString()), stderr.toString());
}

// A dgram server: receives argv[2] messages; for each prints {data, sender} and, after argv[3] seconds,
// sends argv[4] replies 'echo:DATA' (or 'echo:DATA#i') to the sender when it has an address.
const DGRAM_SERVER = py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
srv.bind(addr(sys.argv[1]))
print('ready', flush=True)
count, delay, replies = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
for i in range(count):
    data, sender = srv.recvfrom(1 << 20)
    s = None if sender is None else (sender if isinstance(sender, str) else sender.decode('latin1'))
    print(json.dumps({'data': data.decode('latin1'), 'sender': s}), flush=True)
    if sender:
        time.sleep(delay)
        for j in range(replies):
            srv.sendto(b'echo:' + data + (b'#%d' % j if replies > 1 else b''), sender)
            if replies > 1:
                time.sleep(0.3)
`);

function records(stdout) {
  return stdout.toString().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

test('dgram connect: autobind (abstract, no file) so the Python server can reply', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const srv = python(DGRAM_SERVER, [sock, 2, 0, 1], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', sock], { input: 'one\ntwo\n', cwd: dir, t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'echo:one\necho:two\n');
  const recs = records((await srv.exited).stdout);
  t.deepEqual(recs.map((x) => x.data), ['one', 'two']);
  for (const rec of recs) {
    t.truthy(rec.sender, 'sender had no address');
    t.true(rec.sender.startsWith('\0'), `sender ${JSON.stringify(rec.sender)} is not an abstract (autobind) address`);
  }
  t.deepEqual(fs.readdirSync(dir), ['srv'], 'no file left behind by autobind');
});

test('dgram connect @abstract server', async (t) => {
  const name = '@' + abstractName();
  const srv = python(DGRAM_SERVER, [name, 1, 0, 1], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', name], { input: 'abs\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'echo:abs\n');
});

test('dgram connect --bind PATH: the server sees that address and replies there', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const me = path.join(dir, 'me');
  const srv = python(DGRAM_SERVER, [sock, 1, 0, 1], { t });
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
  const srv = python(DGRAM_SERVER, [sock, 1, 0, 1], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', '--bind', me, sock], { input: 'x\n', t });
  t.is(r.code, 0, show(r));
  t.false(fs.existsSync(me));
});

test('dgram connect --bind @name', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const me = '@' + abstractName();
  const srv = python(DGRAM_SERVER, [sock, 1, 0, 1], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', '--bind', me, sock], { input: 'x\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'echo:x\n');
  t.is(records((await srv.exited).stdout)[0].sender, '\0' + me.slice(1));
});

test('dgram connect --wait: a reply sent 1 s after the message still arrives with --wait 5', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const srv = python(DGRAM_SERVER, [sock, 1, 1.0, 1], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', '--wait', '5', sock], { input: 'slow\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'echo:slow\n');
});

test('dgram connect --wait: several spaced replies are all printed', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const srv = python(DGRAM_SERVER, [sock, 1, 0, 3], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', '--wait', '3', sock], { input: 'm\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'echo:m#0\necho:m#1\necho:m#2\n');
});

// A message recorder: receives argv[2] messages, then prints them as one JSON list (latin1).
const DGRAM_RECORDER = py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
srv.bind(addr(sys.argv[1]))
print('ready', flush=True)
msgs = []
for i in range(int(sys.argv[2])):
    msgs.append(srv.recv(1 << 20).decode('latin1'))
print(json.dumps(msgs), flush=True)
`);

async function sendThroughConnect(t, args, input, expectCount) {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'srv');
  const srv = python(DGRAM_RECORDER, [sock, expectCount], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'dgram', '--wait', '0.2', ...args, sock], { input, t });
  const s = await srv.exited;
  const msgs = s.code === 0 ? JSON.parse(s.stdout.toString().split('\n')[1]) : null;
  return { r, msgs };
}

test('dgram connect --frame line: one message per line, empty line is an empty message, last line without newline', async (t) => {
  const { r, msgs } = await sendThroughConnect(t, ['--frame', 'line'], 'a\n\nb c\nlast', 4);
  t.is(r.code, 0, show(r));
  t.deepEqual(msgs, ['a', '', 'b c', 'last']);
});

test('dgram connect --frame nul: NUL delimits, newlines are data', async (t) => {
  const { r, msgs } = await sendThroughConnect(t, ['--frame', 'nul'], 'm1\nstill m1\0m2\0', 2);
  t.is(r.code, 0, show(r));
  t.deepEqual(msgs, ['m1\nstill m1', 'm2']);
});

test('dgram connect --frame len32: binary messages keep their bytes', async (t) => {
  const { r, msgs } = await sendThroughConnect(t, ['--frame', 'len32'], len32('a\nb', '\0\0', 'z'), 3);
  t.is(r.code, 0, show(r));
  t.deepEqual(msgs, ['a\nb', '\0\0', 'z']);
});

test('dgram connect --frame raw: one read of stdin is one message', async (t) => {
  const { r, msgs } = await sendThroughConnect(t, ['--frame', 'raw'], 'abc\ndef\0', 1);
  t.is(r.code, 0, show(r));
  t.deepEqual(msgs, ['abc\ndef\0']);
});

test('dgram connect --max-size: a longer stdin line is reported and not sent, the others are', async (t) => {
  const { r, msgs } = await sendThroughConnect(t, ['--max-size', '10'], `short\n${'x'.repeat(20)}\nok\n`, 2);
  t.deepEqual(msgs, ['short', 'ok']);
  t.true(r.stderr.toString().includes('20'), `oversize line not reported: ${show(r)}`);
  noStack(t, r.stderr);
});

// ---- dgram listen ---------------------------------------------------------------------------------------

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

async function sendFromUnnamed(t, target, ...msgs) {
  const r = await runPython(py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for m in sys.argv[2:]:
    s.sendto(bytes.fromhex(m), addr(sys.argv[1]))
`), [target, ...msgs.map((m) => Buffer.from(m, 'latin1').toString('hex'))], { t });
  t.is(r.code, 0, show(r));
}

const count = (text, prefix) => text.split('\n').filter((l) => l.startsWith(prefix)).length;

test('dgram listen: unnamed senders are received; stdin goes to the most recent sender with an address', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'l');
  const l = usock(['listen', '-t', 'dgram', sock], { t });
  await waitListening(sock, 'dgram');

  await sendFromUnnamed(t, sock, 'anon1');
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
  await sendFromUnnamed(t, sock, 'anon2');
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
  await a.waitStdout((s) => count(s, 'recv:') === 3);
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
  await sendFromUnnamed(t, name, 'hello abstract');
  await l.waitStdout('hello abstract\n');
  t.is(l.text(), 'hello abstract\n');
  l.kill('SIGTERM');
  await l.exited;
});

const FRAME_OUTPUT = {
  line: ['m1\nm2\n\nx\0y\n', ['m1', 'm2', '', 'x\0y']],
  nul: ['m1\0m2\0\0x\ny\0', ['m1', 'm2', '', 'x\ny']],
  raw: ['m1m2x y', ['m1', 'm2', '', 'x y']],
  len32: [len32('m1', 'm2', '', 'x\n\0y').toString('latin1'), ['m1', 'm2', '', 'x\n\0y']],
};

for (const [mode, [expected, msgs]] of Object.entries(FRAME_OUTPUT)) {
  test(`dgram listen --frame ${mode}: received messages are written framed`, async (t) => {
    const dir = tmpDir(t);
    const sock = path.join(dir, 'l');
    const l = usock(['listen', '-t', 'dgram', '--frame', mode, sock], { t });
    await waitListening(sock, 'dgram');
    await sendFromUnnamed(t, sock, ...msgs);
    const want = Buffer.from(expected, 'latin1');
    await l.waitStdout(() => l.stdout().length >= want.length, 15_000).catch(() => {});
    t.deepEqual(l.stdout(), want, `stdout ${JSON.stringify(l.text())}`);
    l.kill('SIGTERM');
    await l.exited;
  });
}

test('dgram listen --max-size: a larger message is reported with its length, never truncated', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'l');
  const l = usock(['listen', '-t', 'dgram', '--max-size', '50', sock], { t });
  await waitListening(sock, 'dgram');
  await sendFromUnnamed(t, sock, 'x'.repeat(100), 'y'.repeat(50), 'ok');
  await l.waitStdout('ok\n');
  t.is(l.text(), `${'y'.repeat(50)}\nok\n`);
  await l.waitStderr('100', 15_000).catch(() => {});
  t.true(l.errText().includes('100'), `oversize not reported: ${JSON.stringify(l.errText())}`);
  noStack(t, l.stderr());
  l.kill('SIGTERM');
  await l.exited;
});

test('dgram listen: a 200 KB datagram arrives whole (receive buffer sized to the message)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'l');
  const l = usock(['listen', '-t', 'dgram', '--frame', 'raw', sock], { t });
  await waitListening(sock, 'dgram');
  const r = await runPython(py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
s.sendto(b'B' * 200000, addr(sys.argv[1]))
`), [sock], { t });
  t.is(r.code, 0, show(r));
  await l.waitStdout((s) => s.length >= 200000);
  t.is(l.stdout().length, 200000);
  t.true(l.stdout().every((b) => b === 0x42));
  l.kill('SIGTERM');
  await l.exited;
});

test('dgram len32 through two usock processes keeps message boundaries and bytes', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'l');
  const l = usock(['listen', '-t', 'dgram', '--frame', 'len32', sock], { t });
  await waitListening(sock, 'dgram');
  const frames = len32('first\n', '\0', '', 'last message');
  const c = await runUsock(['connect', '-t', 'dgram', '--frame', 'len32', '--wait', '0.1', sock], { input: frames, t });
  t.is(c.code, 0, show(c));
  await l.waitStdout(() => l.stdout().length >= frames.length);
  t.deepEqual(l.stdout(), frames);
  l.kill('SIGTERM');
  await l.exited;
});

// ---- seqpacket ------------------------------------------------------------------------------------------

// A seqpacket server: reads messages until EOF, prints them as JSON, sleeps argv[2] s, then sends each one
// upper-cased as its own message, then 'done', and closes.
const SEQPACKET_SERVER = py(`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
srv.bind(addr(sys.argv[1]))
srv.listen(8)
print('ready', flush=True)
c, _ = srv.accept()
msgs = []
while True:
    d = c.recv(1 << 20)
    if not d:
        break
    msgs.append(d)
print(json.dumps([m.decode('latin1') for m in msgs]), flush=True)
time.sleep(float(sys.argv[2]))
for m in msgs:
    c.send(m.upper())
c.send(b'done')
c.close()
`);

test('seqpacket connect: messages keep their boundaries, half-close, late replies printed', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = python(SEQPACKET_SERVER, [sock, 1.5], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'seqpacket', sock], { input: 'one\ntwo words\n', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'ONE\nTWO WORDS\ndone\n');
  const s = await srv.exited;
  t.deepEqual(JSON.parse(s.stdout.toString().split('\n')[1]), ['one', 'two words']);
});

test('seqpacket connect --frame len32: binary messages both ways', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = python(SEQPACKET_SERVER, [sock, 0], { t });
  await srv.waitStdout('ready');
  // (no empty message here: Python's recv cannot tell a zero-length seqpacket message from EOF)
  const r = await runUsock(['connect', '-t', 'seqpacket', '--frame', 'len32', sock], { input: len32('a\nb', '\0x', 'c'), t });
  t.is(r.code, 0, show(r));
  t.deepEqual(r.stdout, len32('A\nB', '\0X', 'C', 'done'));
  const s = await srv.exited;
  t.deepEqual(JSON.parse(s.stdout.toString().split('\n')[1]), ['a\nb', '\0x', 'c']);
});

test('seqpacket connect --frame nul', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = python(SEQPACKET_SERVER, [sock, 0], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'seqpacket', '--frame', 'nul', sock], { input: 'x\ny\0z\0', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'X\nY\0Z\0done\0');
});

test('seqpacket listen: one peer, messages both ways, exit 0 at the end', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', '-t', 'seqpacket', sock], { t });
  l.end('m1\nm2\n');
  await waitListening(sock, 'seqpacket');
  const cl = await runPython(py(`
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
`), [sock], { t });
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

test('seqpacket listen --max-size: a larger message is reported, the next one printed', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', '-t', 'seqpacket', '--max-size', '50', sock], { t });
  l.end();
  await waitListening(sock, 'seqpacket');
  const cl = await runPython(py(`
s = connect_retry(socket.SOCK_SEQPACKET, sys.argv[1])
s.send(b'z' * 100)
s.send(b'ok')
s.shutdown(socket.SHUT_WR)
recv_all(s)
`), [sock], { t });
  t.is(cl.code, 0, show(cl));
  const r = await l.exited;
  t.is(r.stdout.toString(), 'ok\n', show(r));
  t.true(r.stderr.toString().includes('100'), show(r));
  noStack(t, r.stderr);
});

test('seqpacket connect to a stream socket fails with one clean line', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  await idleStreamServer(t, sock);
  const r = await runUsock(['connect', '-t', 'seqpacket', sock], { input: 'x\n', t });
  t.not(r.code, 0, show(r));
  assertCleanError(t, r.stderr);
});
