// Defects in how usock ends: a signal under `connect --as` must end usock by that signal; a bad len32 frame on
// stdin is a data error (65, one line), not an uncaught exception (1); a failing connection must not take a
// server (echo-server, listen -k) down with it. Real processes and sockets only; Python peers.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import {
  usock,
  python,
  py,
  tmpDir,
  waitListening,
  assertCleanError,
  endedBy,
  show,
  len32,
  SYSTEM_PYTHON,
  NOBODY_UID,
  waitUntil,
} from '../helpers.mjs';

const isRoot = process.getuid?.() === 0;

// A stream server at argv[1] (mode 0777) that accepts one client, says 'accepted', and stays silent.
const SILENT_ACCEPTOR = py(`
import struct
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
srv.listen(8)
print('ready', flush=True)
conn, _ = srv.accept()
print('accepted uid=%d' % struct.unpack('3i', conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1], flush=True)
time.sleep(30)
`);

// --as needs root: skipped (reported as skipped by ava) when the tests do not run as root.
(isRoot ? test : test.skip)('connect --as nobody: SIGTERM ends usock by SIGTERM (not exit 1)', async (t) => {
  const dir = tmpDir(t);
  fs.chmodSync(dir, 0o755); // nobody must reach the socket
  const sock = path.join(dir, 'srv');
  const srv = python(SILENT_ACCEPTOR, [sock], { t, python: SYSTEM_PYTHON });
  await srv.waitStdout('ready');
  const u = usock(['connect', '--as', 'nobody', sock], { t }); // stdin left open
  await srv.waitStdout(`accepted uid=${NOBODY_UID}`);
  u.kill('SIGTERM');
  const r = await u.exited;
  t.false(r.timedOut, show(r));
  t.true(endedBy(r, 'SIGTERM'), `usock must die of SIGTERM (signal SIGTERM or status 143): ${show(r)}`);
});

test('connect -t seqpacket --frame len32: a frame header above --max-size on stdin is a data error (65, one line)', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'echo');
  const srv = usock(['echo-server', '-t', 'seqpacket', sock], { t });
  await waitListening(sock, 'seqpacket');
  const u = usock(['connect', '-t', 'seqpacket', '--frame', 'len32', sock], { t });
  // one good frame, then a header announcing 4 GiB - 1 bytes (far above the default --max-size 262144)
  u.end(Buffer.concat([len32('hello'), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from('junk')]));
  const r = await u.exited;
  t.false(r.timedOut, show(r));
  t.is(r.code, 65, show(r));
  assertCleanError(t, r.stderr);
  t.deepEqual(r.stdout, len32('hello'), 'the reply to the frame before the bad header is written out');
  t.false(srv.done, 'the echo server is unaffected');
});

// A client that connects to argv[1] (argv[2]: stream|seqpacket), sends argv[3] bytes without reading anything
// back (so that the server's echo backs up), says 'reset', and closes with SO_LINGER 0 (a reset).
const RESETTING_CLIENT = py(`
import struct
typ = socket.SOCK_STREAM if sys.argv[2] == 'stream' else socket.SOCK_SEQPACKET
s = socket.socket(socket.AF_UNIX, typ)
s.connect(sys.argv[1])
s.setblocking(False)
total, sent, end = int(sys.argv[3]), 0, time.time() + 0.5
chunk = b'r' * 32768
while sent < total and time.time() < end:
    try:
        sent += s.send(chunk)
    except BlockingIOError:
        time.sleep(0.002)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
print('reset after %d bytes' % sent, flush=True)
`);

// A client that connects to argv[1] (argv[2]: stream|seqpacket), and, once argv[3] bytes (random, 32 KiB
// messages for seqpacket) have been both sent and read back, prints {'match': true|false, 'got': N}; it starts
// sending at once and waits for a line on stdin before sending the second half.
const ECHO_CHECK_CLIENT = py(`
import hashlib
typ = socket.SOCK_STREAM if sys.argv[2] == 'stream' else socket.SOCK_SEQPACKET
total = int(sys.argv[3])
data = os.urandom(total)
s = socket.socket(socket.AF_UNIX, typ)
s.connect(sys.argv[1])
got = []
def reader():
    n = 0
    while n < total:
        d = s.recv(65536)
        if not d:
            break
        got.append(d)
        n += len(d)
th = threading.Thread(target=reader, daemon=True)
th.start()
half = total // 2
def send(b):
    if typ == socket.SOCK_STREAM:
        s.sendall(b)
    else:
        for i in range(0, len(b), 32768):
            s.send(b[i:i + 32768])
send(data[:half])
print('half', flush=True)
sys.stdin.readline()
send(data[half:])
th.join(10)
back = b''.join(got)
print(json.dumps({'match': back == data, 'got': len(back)}), flush=True)
`);

// Note: these three pass on the current code (no failing case found); they guard the behaviour of defect 2c.
for (const type of ['stream', 'seqpacket']) {
  test(`echo-server -t ${type}: a client that resets mid-transfer does not stop the others (byte-exact echo, server alive)`, async (t) => {
    const dir = tmpDir(t);
    const sock = path.join(dir, 'echo');
    const srv = usock(['echo-server', '-t', type, sock], { t });
    await waitListening(sock, type);
    const good = python(ECHO_CHECK_CLIENT, [sock, type, 4 << 20], { t });
    await good.waitStdout('half');
    const bad = python(RESETTING_CLIENT, [sock, type, 8 << 20], { t });
    await bad.waitStdout('reset');
    good.end('go\n');
    const g = await good.exited;
    t.is(g.code, 0, show(g));
    t.regex(g.stdout.toString(), /"match": true/, show(g));
    t.false(srv.done, `echo-server must still run: stderr=${JSON.stringify(srv.errText())}`);
    // and it still serves a new client
    const again = python(ECHO_CHECK_CLIENT, [sock, type, 65536], { t });
    again.end('go\n');
    const a = await again.exited;
    t.regex(a.stdout.toString(), /"match": true/, show(a));
    t.false(srv.done, 'echo-server still running');
  });
}

// listen -k: every peer's data goes to stdout. One peer resets in the middle of sending a lot ('r' bytes); another
// peer's data (random bytes without any 'r') still reaches stdout intact, and listen -k runs on.
const SENDER = py(`
import hashlib
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
data = os.urandom(int(sys.argv[2])).replace(b'r', b's')
print('connected', flush=True)
sys.stdin.readline()
s.sendall(data)
s.close()
print(hashlib.sha256(data).hexdigest(), flush=True)
`);

test('listen -k: a peer that resets mid-transfer does not stop the other peers; listen runs on', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'lk');
  const out = path.join(dir, 'out');
  const outFd = fs.openSync(out, 'w');
  t.teardown(() => fs.closeSync(outFd));
  const srv = usock(['listen', '-k', sock], { t, stdio: ['pipe', outFd, 'pipe'] }); // stdin stays open
  await waitListening(sock, 'stream');
  const size = 1 << 20;
  const good = python(SENDER, [sock, size], { t });
  await good.waitStdout('connected');
  const bad = python(RESETTING_CLIENT, [sock, 'stream', 8 << 20], { t });
  await bad.waitStdout('reset');
  good.end('go\n');
  const g = await good.exited;
  t.is(g.code, 0, show(g));
  const sha = g.stdout.toString().trim().split('\n').pop();
  const goodBytes = () => Buffer.from(fs.readFileSync(out).toString('latin1').replaceAll('r', ''), 'latin1');
  await waitUntil(() => goodBytes().length >= size || srv.done, undefined, "the good peer's data on stdout").catch(() => {});
  t.is(createHash('sha256').update(goodBytes()).digest('hex'), sha, "the good peer's data reached stdout intact");
  t.false(srv.done, `listen -k must still run: stderr=${JSON.stringify(srv.errText())}`);
});
