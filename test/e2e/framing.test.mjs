// End-to-end tests of message framing over dgram and seqpacket: --frame line|nul|raw|len32 on connect and listen,
// --max-size (reported, never truncated), len32 through two usock processes.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import path from 'node:path';
import {
  usock,
  runUsock,
  python,
  pythonFile,
  runPython,
  py,
  tmpDir,
  waitListening,
  assertNoStack,
  show,
  len32,
  sendDatagrams,
} from '../helpers.mjs';

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
  assertNoStack(t, r.stderr);
});

/** @type {Record<string, [string, string[]]>} */
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
    await sendDatagrams(t, sock, ...msgs);
    const want = Buffer.from(expected, 'latin1');
    await l.waitStdout(() => l.stdout().length >= want.length).catch(() => {});
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
  await sendDatagrams(t, sock, 'x'.repeat(100), 'y'.repeat(50), 'ok');
  await l.waitStdout('ok\n');
  t.is(l.text(), `${'y'.repeat(50)}\nok\n`);
  await l.waitStderr('100').catch(() => {});
  t.true(l.errText().includes('100'), `oversize not reported: ${JSON.stringify(l.errText())}`);
  assertNoStack(t, l.stderr());
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

test('seqpacket connect --frame len32: binary messages both ways', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const srv = pythonFile('seqpacket_server.py', [sock, 0], { t });
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
  const srv = pythonFile('seqpacket_server.py', [sock, 0], { t });
  await srv.waitStdout('ready');
  const r = await runUsock(['connect', '-t', 'seqpacket', '--frame', 'nul', sock], { input: 'x\ny\0z\0', t });
  t.is(r.code, 0, show(r));
  t.is(r.stdout.toString(), 'X\nY\0Z\0done\0');
});

test('seqpacket listen --max-size: a larger message is reported, the next one printed', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const l = usock(['listen', '-t', 'seqpacket', '--max-size', '50', sock], { t });
  l.end();
  await waitListening(sock, 'seqpacket');
  const cl = await runPython(
    py(`
s = connect_retry(socket.SOCK_SEQPACKET, sys.argv[1])
s.send(b'z' * 100)
s.send(b'ok')
s.shutdown(socket.SHUT_WR)
recv_all(s)
`),
    [sock],
    { t },
  );
  t.is(cl.code, 0, show(cl));
  const r = await l.exited;
  t.is(r.stdout.toString(), 'ok\n', show(r));
  t.true(r.stderr.toString().includes('100'), show(r));
  assertNoStack(t, r.stderr);
});
