// End-to-end tests of `usock send-fd` over stream, seqpacket and dgram, with Python's socket.recv_fds as the receiver: files, --write/--append, --fd, --message, --listen, bad input and descriptor leaks.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import fs from 'node:fs';
import path from 'node:path';
import {
  usock,
  runUsock,
  python,
  runPython,
  py,
  tmpDir,
  abstractName,
  waitListening,
  waitUntil,
  assertCleanError,
  endedBy,
  show,
  tmpFiles,
  rootTest,
} from '../helpers.mjs';

const TYPES = ['stream', 'seqpacket', 'dgram'];

// Python helpers: the socket type by name, and a JSON description of a received message and its descriptors
// (target, access mode, O_APPEND, close-on-exec, and a regular file's contents from its current offset).
const PY_FDS = `
import fcntl, stat
TYPES = {'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET, 'dgram': socket.SOCK_DGRAM}
def describe(msg, fds, flags=0):
    out = {'msg': msg.hex(), 'ctrunc': bool(flags & socket.MSG_CTRUNC), 'fds': []}
    for fd in fds:
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        d = {'target': os.readlink('/proc/self/fd/%d' % fd), 'acc': fl & 3, 'append': bool(fl & os.O_APPEND)}
        if stat.S_ISREG(os.fstat(fd).st_mode) and (fl & 3) != os.O_WRONLY:
            d['data'] = os.read(fd, 65536).decode()
        out['fds'].append(d)
        os.close(fd)
    return out
`;

/** Python: bind ADDRESS with TYPE, take one message with descriptors (stream/seqpacket: from the first client), print its description. */
const RECEIVE_ONE = py(
  PY_FDS +
    `
t, a = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, TYPES[t])
s.bind(addr(a))
if t != 'dgram':
    s.listen()
    s, _ = s.accept()
msg, fds, flags, _ = socket.recv_fds(s, 1024, 300)
print(json.dumps(describe(msg, fds, flags)))
`,
);

/** Python: N times, connect to ADDRESS (dgram: from an autobound socket, sending an empty request) and take one message; print the descriptions. */
const FETCH_N = py(
  PY_FDS +
    `
t, a, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
res = []
for i in range(n):
    if t == 'dgram':
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind('')
        s.connect(addr(a))
        s.send(b'')
    else:
        s = connect_retry(TYPES[t], a)
    msg, fds, flags, _ = socket.recv_fds(s, 1024, 300)
    res.append(describe(msg, fds, flags))
    s.close()
print(json.dumps(res))
`,
);

/** Starts the Python receiver and resolves once it is bound. */
async function receiver(t, type, address) {
  const p = python(RECEIVE_ONE, [type, address], { t });
  await waitListening(address, type);
  return p;
}

async function described(t, p) {
  const r = await p.exited;
  t.is(r.code, 0, show(r));
  return JSON.parse(r.stdout.toString());
}

for (const type of TYPES) {
  test(`${type}: send-fd FILE FILE reaches Python's recv_fds: one message '\\0', read-only descriptors in order`, async (t) => {
    const [a, b] = tmpFiles(t, ['one', 'two']);
    const sock = path.join(path.dirname(a), 's');
    const rx = await receiver(t, type, sock);
    const r = await runUsock(['send-fd', '-t', type, sock, a, b], { t });
    t.is(r.code, 0, show(r));
    t.is(r.stderr.toString(), '');
    const got = await described(t, rx);
    t.is(got.msg, '00');
    t.false(got.ctrunc);
    t.deepEqual(got.fds, [
      { target: a, acc: 0, append: false, data: 'one' },
      { target: b, acc: 0, append: false, data: 'two' },
    ]);
  });

  test(`${type}: send-fd --listen serves every client until SIGTERM, then removes its socket file`, async (t) => {
    const [a] = tmpFiles(t, ['shared']);
    const sock = path.join(path.dirname(a), 's');
    const server = usock(['send-fd', '-t', type, '--listen', '-v', sock, a, '--message', 'hi'], { t });
    await waitListening(sock, type);
    const got = await described(t, python(FETCH_N, [type, sock, 3], { t }));
    t.is(got.length, 3);
    for (const m of got) {
      t.is(m.msg, Buffer.from('hi').toString('hex'));
      t.is(m.fds.length, 1);
      t.is(m.fds[0].target, a);
    }
    // Each FILE is opened afresh for every client: each reads it from the start.
    t.deepEqual(
      got.map((m) => m.fds[0].data),
      ['shared', 'shared', 'shared'],
    );
    await waitUntil(() => (server.errText().match(/sent 1 descriptor to/g) ?? []).length === 3, undefined, 'three "sent" lines');
    server.kill('SIGTERM');
    const r = await server.exited;
    t.true(endedBy(r, 'SIGTERM'), show(r));
    t.false(fs.existsSync(sock));
  });
}

test('send-fd --listen --fd 3: the same open descriptor goes to every client (one file offset), unlike a FILE', async (t) => {
  const [a] = tmpFiles(t, ['shared']);
  const sock = path.join(path.dirname(a), 's');
  const fd3 = fs.openSync(a, 'r');
  const server = usock(['send-fd', '-t', 'seqpacket', '--listen', sock, '--fd', '3', '--message', 'hi'], {
    t,
    stdio: ['pipe', 'pipe', 'pipe', fd3],
  });
  fs.closeSync(fd3);
  await waitListening(sock, 'seqpacket');
  const got = await described(t, python(FETCH_N, ['seqpacket', sock, 2], { t }));
  t.deepEqual(
    got.map((m) => m.fds[0].data),
    ['shared', ''],
  );
  server.kill('SIGTERM');
  await server.exited;
});

test('dgram --listen: an unnamed sender cannot be answered and is reported; named senders still are', async (t) => {
  const [a] = tmpFiles(t, ['x']);
  const sock = path.join(path.dirname(a), 's');
  const server = usock(['send-fd', '-t', 'dgram', '--listen', sock, a], { t });
  await waitListening(sock, 'dgram');
  const unnamed = await runPython(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b'', sys.argv[1])
`),
    [sock],
    { t },
  );
  t.is(unnamed.code, 0, show(unnamed));
  await server.waitStderr((s) => /unnamed socket: no address to send the descriptors to/.test(s));
  const got = await described(t, python(FETCH_N, ['dgram', sock, 1], { t }));
  t.is(got[0].fds[0].target, a);
  server.kill();
  await server.exited;
});

test('abstract address: send-fd @NAME to a Python receiver bound at \\0NAME', async (t) => {
  const [a] = tmpFiles(t, ['abs']);
  const name = '@' + abstractName();
  const rx = await receiver(t, 'seqpacket', name);
  const r = await runUsock(['send-fd', '-t', 'seqpacket', name, a], { t });
  t.is(r.code, 0, show(r));
  t.is((await described(t, rx)).fds[0].data, 'abs');
});

test('--write opens read-write, --append for appending, the default read-only (a write fails with EBADF)', async (t) => {
  const [plain, rw, app] = tmpFiles(t, ['plain', 'rw-file', 'app']);
  const sock = path.join(path.dirname(plain), 's');
  const script = py(
    PY_FDS +
      `
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen()
res = []
for i in range(3):
    c, _ = s.accept()
    msg, fds, flags, _ = socket.recv_fds(c, 16, 4)
    fd = fds[0]
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b'XY')
        res.append('written')
    except OSError as e:
        res.append(os.strerror(e.errno))
    os.close(fd)
print(json.dumps(res))
`,
  );
  const rx = python(script, [sock], { t });
  await waitListening(sock);
  for (const args of [[plain], ['--write', rw], ['--append', app]]) {
    const r = await runUsock(['send-fd', sock, ...args], { t });
    t.is(r.code, 0, show(r));
  }
  const out = await rx.exited;
  t.deepEqual(JSON.parse(out.stdout.toString()), ['Bad file descriptor', 'written', 'written'], show(out));
  t.is(fs.readFileSync(plain, 'utf8'), 'plain');
  t.is(fs.readFileSync(rw, 'utf8'), 'XY-file');
  t.is(fs.readFileSync(app, 'utf8'), 'appXY', 'O_APPEND writes at the end whatever the offset');
});

test('--write and --append create a FILE that does not exist yet', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 's');
  const rx = await receiver(t, 'stream', sock);
  const r = await runUsock(['send-fd', sock, '--append', path.join(dir, 'new')], { t });
  t.is(r.code, 0, show(r));
  const got = await described(t, rx);
  t.deepEqual(got.fds, [{ target: path.join(dir, 'new'), acc: 1, append: true }]);
});

test("--fd 0 sends usock's own stdin (after the FILEs): the receiver reads what is written to it", async (t) => {
  const [a] = tmpFiles(t, ['file']);
  const sock = path.join(path.dirname(a), 's');
  const script = py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1]); s.listen()
c, _ = s.accept()
msg, fds, flags, _ = socket.recv_fds(c, 16, 4)
print(os.readlink('/proc/self/fd/%d' % fds[0]))
print(os.readlink('/proc/self/fd/%d' % fds[1]).split(':')[0])
data = b''
while True:
    d = os.read(fds[1], 100)
    if not d: break
    data += d
print(data.decode())
`);
  const rx = python(script, [sock], { t });
  await waitListening(sock, 'seqpacket');
  const sender = usock(['send-fd', '-t', 'seqpacket', sock, '--fd', '0', a], { t });
  sender.end('through stdin');
  const r = await sender.exited;
  t.is(r.code, 0, show(r));
  const out = await rx.exited;
  // Node gives a child's stdin 'pipe' as a socketpair.
  t.is(out.stdout.toString(), `${a}\nsocket\nthrough stdin\n`, show(out));
});

test('--message TEXT is the payload; seqpacket and dgram may send an empty one, stream may not (64)', async (t) => {
  const dir = tmpDir(t);
  for (const [type, message, hex] of [
    ['stream', 'héllo', Buffer.from('héllo').toString('hex')],
    ['seqpacket', '', ''],
    ['dgram', '', ''],
  ]) {
    const sock = path.join(dir, `s-${type}`);
    const rx = await receiver(t, type, sock);
    const r = await runUsock(['send-fd', '-t', type, sock, '--fd', '1', '--message', message], { t });
    t.is(r.code, 0, show(r));
    const got = await described(t, rx);
    t.is(got.msg, hex, type);
    t.is(got.fds.length, 1);
  }
  const bad = await runUsock(['send-fd', path.join(dir, 'nowhere'), '--fd', '1', '--message', ''], { t });
  t.is(bad.code, 64, show(bad));
  assertCleanError(t, bad.stderr, /--message '' cannot carry descriptors over a stream socket/);
});

test('a FILE that cannot be opened: exit 66 before any connection is tried, nothing sent', async (t) => {
  const [a] = tmpFiles(t, ['ok']);
  const dir = path.dirname(a);
  // No socket at this address: connecting first would have given 69.
  const r = await runUsock(['send-fd', path.join(dir, 'nothing-here'), a, path.join(dir, 'missing')], { t });
  t.is(r.code, 66, show(r));
  assertCleanError(t, r.stderr, /^usock: open .*missing: No such file or directory \(ENOENT\)$/);
  // With a live receiver: the sender exits 66 and the receiver sees no connection at all.
  const sock = path.join(dir, 's');
  const rx = python(
    py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen()
print('ready', flush=True)
c, _ = s.accept()
msg, fds, flags, _ = socket.recv_fds(c, 16, 4)
print('first connection brought %d descriptor(s)' % len(fds), flush=True)
`),
    [sock],
    { t },
  );
  await rx.waitStdout('ready');
  const d = await runUsock(['send-fd', '--write', sock, dir], { t });
  t.is(d.code, 66, show(d));
  assertCleanError(t, d.stderr, /^usock: open .*\(EISDIR\)$/);
  // The first connection the listener accepts is the next, good one: the failed run never connected.
  const good = await runUsock(['send-fd', sock, a], { t });
  t.is(good.code, 0, show(good));
  const out = await rx.exited;
  t.is(out.stdout.toString(), 'ready\nfirst connection brought 1 descriptor(s)\n', show(out));
});

test('--fd N that is not open: exit 64, "--fd N is not an open descriptor"', async (t) => {
  const r = await runUsock(['send-fd', '/nonexistent/s', '--fd', '250'], { t });
  t.is(r.code, 64, show(r));
  assertCleanError(t, r.stderr, /^usock: --fd 250 is not an open descriptor$/);
  const bad = await runUsock(['send-fd', '/nonexistent/s', '--fd', 'x'], { t });
  t.is(bad.code, 64, show(bad));
  assertCleanError(t, bad.stderr, /bad --fd 'x'/);
});

test('more than 253 descriptors (SCM_MAX_FD) or none at all is a usage error (64)', async (t) => {
  const [a] = tmpFiles(t, ['x']);
  const many = await runUsock(['send-fd', '/nonexistent/s', ...Array(200).fill(a), ...Array(54).fill(['--fd', '1']).flat()], { t });
  t.is(many.code, 64, show(many));
  assertCleanError(t, many.stderr, /too many descriptors: 254 \(one message carries at most 253\)/);
  const none = await runUsock(['send-fd', '/nonexistent/s'], { t });
  t.is(none.code, 64, show(none));
  assertCleanError(t, none.stderr, /nothing to send/);
});

test('253 descriptors in one message reach the receiver', async (t) => {
  const [a] = tmpFiles(t, ['x']);
  const sock = path.join(path.dirname(a), 's');
  const rx = await receiver(t, 'stream', sock);
  const r = await runUsock(['send-fd', sock, ...Array(253).fill(a)], { t });
  t.is(r.code, 0, show(r));
  const got = await described(t, rx);
  t.is(got.fds.length, 253);
  t.false(got.ctrunc);
});

test('nothing at ADDRESS: exit 69 after the FILEs were opened fine', async (t) => {
  const [a] = tmpFiles(t, ['x']);
  const r = await runUsock(['send-fd', path.join(path.dirname(a), 'none'), a], { t });
  t.is(r.code, 69, show(r));
  assertCleanError(t, r.stderr, /connect .*: No such file or directory \(ENOENT\)/);
});

rootTest('--listen with access rules: a client no rule admits gets no descriptors and is reported', async (t) => {
  const [a] = tmpFiles(t, ['secret']);
  const sock = path.join(path.dirname(a), 's');
  const other = process.getuid?.() === 4242 ? 4243 : 4242;
  const server = usock(['send-fd', '--listen', sock, a, '--allow-uid', String(other)], { t });
  await waitListening(sock);
  const r = await runPython(
    py(`
s = connect_retry(socket.SOCK_STREAM, sys.argv[1])
msg, fds, flags, _ = socket.recv_fds(s, 16, 4)
print(len(msg), len(fds))
`),
    [sock],
    { t },
  );
  t.is(r.stdout.toString(), '0 0\n', show(r));
  await server.waitStderr((s) => /rejected .*no --allow rule matches/.test(s));
  server.kill();
  await server.exited;
});

/** Returns the number of descriptors process pid has open. */
function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

test('no descriptor leak: send-fd --listen serving 60 clients holds as many descriptors afterwards as before', async (t) => {
  const [a, b] = tmpFiles(t, ['a', 'b']);
  const sock = path.join(path.dirname(a), 's');
  const server = usock(['send-fd', '--listen', '-t', 'seqpacket', sock, a, b], { t });
  await waitListening(sock, 'seqpacket');
  const warm = await described(t, python(FETCH_N, ['seqpacket', sock, 1], { t }));
  t.is(warm[0].fds.length, 2);
  await waitUntil(() => fdCount(server.pid) > 0);
  const before = fdCount(server.pid);
  const got = await described(t, python(FETCH_N, ['seqpacket', sock, 60], { t }));
  t.is(got.length, 60);
  t.true(got.every((m) => m.fds.length === 2));
  // Each connection is closed once its message is sent.
  await waitUntil(() => fdCount(server.pid) === before, undefined, `send-fd back to ${before} descriptors (has ${fdCount(server.pid)})`);
  t.pass();
  server.kill();
  await server.exited;
});
